//! What is stored with a file besides its bytes, the same whether it goes in one POST or in
//! parts, and what it is signed with.

use std::collections::BTreeMap;

use web_sys::File;

/// What a file is signed with besides its name, size and type.
#[derive(Clone)]
pub struct Asking {
    pub access_code: String,
    /// The upload profile the page is for.
    pub profile: String,
    /// What the object keeps: see [`Asking::new`].
    pub metadata: BTreeMap<String, String>,
}

impl Asking {
    /// For `file`: when it was last changed on the uploader's computer, and the values the
    /// person gave the profile's `fields`.
    pub fn new(
        file: &File,
        access_code: String,
        profile: String,
        fields: BTreeMap<String, String>,
    ) -> Self {
        let modified: String =
            js_sys::Date::new(&file.last_modified().into()).to_iso_string().into();
        let mut metadata = fields;
        metadata.retain(|_, value| !value.is_empty());
        metadata.insert(crate::rules::LAST_MODIFIED_METADATA.to_string(), modified);
        Self { access_code, profile, metadata }
    }
}
