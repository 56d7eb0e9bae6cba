//! What is stored with a file besides its bytes, the same whether it goes in one POST or in
//! parts.

use std::collections::BTreeMap;

use web_sys::File;

/// The metadata the object keeps: when the file was last changed on the uploader's computer.
pub fn metadata(file: &File) -> BTreeMap<String, String> {
    let modified: String = js_sys::Date::new(&file.last_modified().into()).to_iso_string().into();
    BTreeMap::from([("file-last-modified".to_string(), modified)])
}
