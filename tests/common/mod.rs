//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The shared folder of real CT data and malformed inputs.
///
/// `CTUQ_SHARED` names it (CI sets it, and then a missing file fails the test); without it,
/// `../shared` beside the checkout is used if present. Returns `None` only when the variable
/// is unset and no folder is found, so that a bare checkout still runs its own tests.
pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("CTUQ_SHARED") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "CTUQ_SHARED={} is not a folder",
            dir.display()
        );
        return Some(dir);
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if beside.is_dir() {
        return Some(beside);
    }
    eprintln!("skipping: set CTUQ_SHARED to the shared data folder to run this test");
    None
}

/// A file under the shared folder that must exist.
pub fn shared_file(dir: &std::path::Path, relative: &str) -> PathBuf {
    let path = dir.join(relative);
    assert!(
        path.exists(),
        "{} is missing from the shared folder",
        path.display()
    );
    path
}

/// A file of tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The pattern every fixture holds (see tests/fixtures/make_fixtures.py).
pub fn pattern(z: usize, y: usize, x: usize) -> f64 {
    ((z * 7 + y * 3 + x) % 97) as f64
}

/// Shape of every fixture volume.
pub const FIXTURE_SHAPE: [usize; 3] = [4, 40, 35];

/// A numpy `.npy` array: its shape and its values as f64.
pub struct Npy {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

/// Reads a little or big-endian integer or float `.npy` file (C order).
pub fn read_npy(path: &std::path::Path) -> Npy {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let (header_len, header_start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[header_start..header_start + header_len]).unwrap();
    let descr = header
        .split("'descr':")
        .nth(1)
        .unwrap()
        .split('\'')
        .nth(1)
        .unwrap();
    let shape_text = header.split("'shape':").nth(1).unwrap();
    let shape_text = &shape_text[shape_text.find('(').unwrap() + 1..shape_text.find(')').unwrap()];
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    assert!(!header.contains("'fortran_order': True"));
    let data = &bytes[header_start + header_len..];
    let big = descr.starts_with('>');
    let kind = &descr[1..];
    let values = match kind {
        "u1" => data.iter().map(|&b| b as f64).collect(),
        "u2" | "i2" => data
            .chunks_exact(2)
            .map(|c| {
                let raw = if big { [c[0], c[1]] } else { [c[1], c[0]] };
                let unsigned = u16::from_be_bytes(raw);
                if kind == "u2" {
                    unsigned as f64
                } else {
                    unsigned as i16 as f64
                }
            })
            .collect(),
        "f4" => data
            .chunks_exact(4)
            .map(|c| {
                let raw: [u8; 4] = c.try_into().unwrap();
                (if big {
                    f32::from_be_bytes(raw)
                } else {
                    f32::from_le_bytes(raw)
                }) as f64
            })
            .collect(),
        other => panic!("npy type {other} not handled by the test reader"),
    };
    Npy { shape, values }
}
