//! What S3 answers to a POST that stored its file with `success_action_status=201`: the
//! `PostResponse` document a script reads. (Refusals are in [`super::error`].)
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/RESTObjectPOST.html>

use super::error::xml_escape;

/// The `PostResponse` XML for an object stored at `location` as `bucket`/`key` with `etag`.
pub fn post_response_xml(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
        xml_escape(location),
        xml_escape(bucket),
        xml_escape(key),
        xml_escape(etag)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_escaped() {
        let xml = post_response_xml("http://h/b/a&b", "b", "a&b<c>", "\"e\"");
        assert!(xml.contains("<Key>a&amp;b&lt;c&gt;</Key>"), "{xml}");
        assert!(xml.contains("<Location>http://h/b/a&amp;b</Location>"), "{xml}");
        assert!(xml.contains("<ETag>&quot;e&quot;</ETag>"), "{xml}");
    }
}
