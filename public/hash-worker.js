// SHA-256 for the upload page, off its thread (app/src/upload/hash.rs): the browser reads the
// file (or part) and hashes it with its own native code, here, so the page never holds the bytes
// or waits on a copy of them. Asked { id, blob }, answers { id, digest } (32 bytes) or
// { id, error }. One blob at a time, in the order asked: the worker's memory holds at most one
// (hashing is far faster than any upload, so the parts in flight do not wait on each other).
let queue = Promise.resolve();
onmessage = ({ data: { id, blob } }) => {
  queue = queue.then(async () => {
    try {
      // Blob.arrayBuffer is newer than workers' SubtleCrypto (Safari 13 has only the latter).
      const bytes = await (blob.arrayBuffer ? blob.arrayBuffer() : new Response(blob).arrayBuffer());
      const digest = await crypto.subtle.digest('SHA-256', bytes);
      postMessage({ id, digest }, [digest]);
    } catch (err) {
      postMessage({ id, error: `${err.name}: ${err.message}` });
    }
  });
};
