//! Where a bucket is: one type owns its addressing (as rusty-s3's `Bucket` does), so that the
//! URL forms are POSTed to, the path a part's URL is signed for and an object's link all agree.
//! On a custom endpoint (Garage, MinIO, the dev bucket) path-style, `<endpoint>/<bucket>/<key>`;
//! on AWS virtual-host style, but path-style for dotted names (they break virtual-host TLS
//! certificates).

use super::uri::encoded;

/// One bucket and how it is addressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    /// The region policies are signed for (Garage: its `s3_region`).
    pub region: String,
    /// An S3-compatible server's base URL (no trailing slash); `None` means AWS itself.
    pub endpoint: Option<String>,
}

impl Bucket {
    pub fn new(
        name: impl Into<String>,
        region: impl Into<String>,
        endpoint: Option<String>,
    ) -> Self {
        let endpoint = endpoint.map(|url| url.trim_end_matches('/').to_owned());
        Self { name: name.into(), region: region.into(), endpoint }
    }

    /// Where browsers POST their forms.
    pub fn post_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint}/{}", self.name),
            None if self.name.contains('.') => {
                format!("https://s3.{}.amazonaws.com/{}", self.region, self.name)
            }
            None => format!("https://{}.s3.{}.amazonaws.com/", self.name, self.region),
        }
    }

    /// Where an object's requests go: the endpoint (scheme and authority) and the path, not yet
    /// encoded, as [`super::presign`] takes them.
    pub fn object_location(&self, key: &str) -> (String, String) {
        match &self.endpoint {
            Some(endpoint) => (endpoint.clone(), format!("/{}/{key}", self.name)),
            None if self.name.contains('.') => (
                format!("https://s3.{}.amazonaws.com", self.region),
                format!("/{}/{key}", self.name),
            ),
            None => (
                format!("https://{}.s3.{}.amazonaws.com", self.name, self.region),
                format!("/{key}"),
            ),
        }
    }

    /// An object's URL, its path encoded as S3 encodes it.
    pub fn object_url(&self, key: &str) -> String {
        let (endpoint, path) = self.object_location(key);
        format!("{endpoint}{}", encoded(&path, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_endpoints_are_path_style() {
        let bucket = Bucket::new("uploads", "garage", Some("http://127.0.0.1:3900/".into()));
        assert_eq!(bucket.post_url(), "http://127.0.0.1:3900/uploads");
        assert_eq!(
            bucket.object_location("a b.txt"),
            ("http://127.0.0.1:3900".to_owned(), "/uploads/a b.txt".to_owned())
        );
        assert_eq!(
            bucket.object_url("docs/a b+ü.txt"),
            "http://127.0.0.1:3900/uploads/docs/a%20b%2B%C3%BC.txt"
        );
    }

    #[test]
    fn aws_is_virtual_host_unless_the_name_has_dots() {
        let bucket = Bucket::new("uploads", "eu-west-1", None);
        assert_eq!(bucket.post_url(), "https://uploads.s3.eu-west-1.amazonaws.com/");
        assert_eq!(bucket.object_url("k"), "https://uploads.s3.eu-west-1.amazonaws.com/k");
        let dotted = Bucket::new("my.uploads", "eu-west-1", None);
        assert_eq!(dotted.post_url(), "https://s3.eu-west-1.amazonaws.com/my.uploads");
        assert_eq!(dotted.object_url("k"), "https://s3.eu-west-1.amazonaws.com/my.uploads/k");
    }
}
