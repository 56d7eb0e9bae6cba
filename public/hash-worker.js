// SHA-256 for the upload page, off its thread (app/src/upload/hash.rs): the browser reads the
// file (or part) and hashes it with its own native code, here, so the page never holds the bytes
// or waits on a copy of them. Asked { id, blob }, answers { id, digest } (32 bytes) or
// { id, error }.
onmessage = async ({ data: { id, blob } }) => {
  try {
    const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
    postMessage({ id, digest }, [digest]);
  } catch (err) {
    postMessage({ id, error: `${err.name}: ${err.message}` });
  }
};
