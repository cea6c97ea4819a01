//! Keeps the files generated from the Rust source in step with it: the TypeScript wire types in
//! `web/sdk/wire/` and the OpenAPI document `src/openapi.json`. Each generator's test writes what it
//! generates through here and fails when that changed a file, so a Rust change whose output was not
//! regenerated and committed fails `cargo test`.

use std::collections::BTreeMap;
use std::path::Path;

/// What to do with files in the directory that the generator no longer writes.
pub enum Strays {
    /// The directory holds only generated files: delete the ones nothing generates any more.
    Remove,
    /// The directory holds other files too: leave them alone.
    Keep,
}

/// Writes each of `files` (file name to text) into `dir`, relative to the crate root, where its
/// text differs from what is there, and fails naming every file it changed.
pub fn assert_up_to_date(what: &str, dir: &str, files: &BTreeMap<String, String>, strays: Strays) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    std::fs::create_dir_all(&root).unwrap();
    let mut changed = Vec::new();
    for (name, text) in files {
        let path = root.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).unwrap();
            changed.push(format!("regenerated {dir}/{name}"));
        }
    }
    if let Strays::Remove = strays {
        for entry in std::fs::read_dir(&root).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !files.contains_key(&name) {
                std::fs::remove_file(root.join(&name)).unwrap();
                changed.push(format!("removed {dir}/{name}, which nothing generates"));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "{what} {} out of date with the Rust source:\n  {}\nReview and commit the result.",
        if what.ends_with('s') { "were" } else { "was" },
        changed.join("\n  ")
    );
}
