//! Keeps the files generated from the Rust source in step with it: the TypeScript wire types and
//! route map in `web/sdk/wire/` and the OpenAPI document `src/openapi.json`. Each generator's test
//! writes what it generates through here and fails when that changed a file, so a Rust change
//! whose output was not regenerated and committed fails `cargo test`.

use std::collections::BTreeMap;
use std::path::Path;

/// The first line of every generated TypeScript file holds this; it is how the sweep of a
/// generated folder tells a generated file from one a person put there.
pub const GENERATED_MARK: &str = "do not edit by hand";

/// What to do with files in the directory that this generator does not write.
pub enum Strays<'a> {
    /// The directory holds generated files only. One that carries `GENERATED_MARK` and that
    /// nothing generates any more is deleted; `written_elsewhere` are the files another generator
    /// writes there. Any other file fails the test, named, rather than being deleted.
    Sweep { written_elsewhere: &'a [&'a str] },
    /// The directory holds other files too: leave them alone.
    Keep,
}

fn is_generated(path: &Path) -> bool {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().next().is_some_and(|first| first.contains(GENERATED_MARK))
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
    if let Strays::Sweep { written_elsewhere } = strays {
        let mut foreign = Vec::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if files.contains_key(&name) || written_elsewhere.contains(&name.as_str()) {
                continue;
            }
            if is_generated(&root.join(&name)) {
                std::fs::remove_file(root.join(&name)).unwrap();
                changed.push(format!("removed {dir}/{name}, which nothing generates"));
            } else {
                foreign.push(format!("{dir}/{name}"));
            }
        }
        assert!(
            foreign.is_empty(),
            "{dir}/ holds generated files only, but these were not generated (their first line lacks \
             \"{GENERATED_MARK}\"): {}. Move them out of {dir}/; nothing was deleted.",
            foreign.join(", ")
        );
    }
    assert!(
        changed.is_empty(),
        "{what} {} out of date with the Rust source:\n  {}\nReview and commit the result.",
        if what.ends_with('s') { "were" } else { "was" },
        changed.join("\n  ")
    );
}
