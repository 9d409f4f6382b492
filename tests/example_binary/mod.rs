//! Example programs as the tests of their contracts run them: built (a
//! no-op when fresh) into the target directory the test runs from.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the example `name` in this test's profile and returns its path.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/<test binary>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "--example", name, "--target-dir"])
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build.status().unwrap();
    assert!(status.success(), "building the {name} example failed");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{}", path.display());
    path
}

/// A scratch directory of its own under the system's temp dir.
pub fn scratch(test: &str, name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("custinsight-{test}-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the example `name` with `args`: whether it succeeded, its stdout as
/// JSON (`Null` when it is not JSON) and its stderr.
#[allow(dead_code)] // not every test runs an example this way
pub fn run_example(name: &str, args: &[&str]) -> (bool, serde_json::Value, String) {
    let output = Command::new(example_binary(name))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let json = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    (
        output.status.success(),
        json,
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}
