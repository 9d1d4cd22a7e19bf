//! Samples in the type the source file stored them in.

use std::fmt;

/// The sample type of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleType {
    /// 1-bit (bilevel) samples, unpacked to one byte of 0 or 1 each.
    Bit,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl SampleType {
    /// Bytes one sample takes once unpacked in memory.
    pub fn bytes(self) -> usize {
        match self {
            SampleType::Bit | SampleType::U8 | SampleType::I8 => 1,
            SampleType::U16 | SampleType::I16 => 2,
            SampleType::U32 | SampleType::I32 | SampleType::F32 => 4,
            SampleType::U64 | SampleType::I64 | SampleType::F64 => 8,
        }
    }

    /// Parses the names used on the command line (`u8`, `uint16`, `f32`, `float64`, ...).
    pub fn parse(name: &str) -> Option<SampleType> {
        let sample_type = match name.to_ascii_lowercase().as_str() {
            "u8" | "uint8" => SampleType::U8,
            "u16" | "uint16" => SampleType::U16,
            "u32" | "uint32" => SampleType::U32,
            "u64" | "uint64" => SampleType::U64,
            "i8" | "int8" => SampleType::I8,
            "i16" | "int16" => SampleType::I16,
            "i32" | "int32" => SampleType::I32,
            "i64" | "int64" => SampleType::I64,
            "f32" | "float32" => SampleType::F32,
            "f64" | "float64" => SampleType::F64,
            _ => return None,
        };
        Some(sample_type)
    }
}

impl fmt::Display for SampleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            SampleType::Bit => "uint1",
            SampleType::U8 => "uint8",
            SampleType::U16 => "uint16",
            SampleType::U32 => "uint32",
            SampleType::U64 => "uint64",
            SampleType::I8 => "int8",
            SampleType::I16 => "int16",
            SampleType::I32 => "int32",
            SampleType::I64 => "int64",
            SampleType::F32 => "float32",
            SampleType::F64 => "float64",
        };
        f.write_str(name)
    }
}

/// Samples of one volume in their source type, z, y, x order, x fastest.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Bilevel samples, one byte (0 or 1) each.
    Bit(Vec<u8>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$values` bound to the vector inside any [`Samples`] variant.
macro_rules! with_samples {
    ($samples:expr, $values:ident => $body:expr) => {
        match $samples {
            Samples::Bit($values) => $body,
            Samples::U8($values) => $body,
            Samples::U16($values) => $body,
            Samples::U32($values) => $body,
            Samples::U64($values) => $body,
            Samples::I8($values) => $body,
            Samples::I16($values) => $body,
            Samples::I32($values) => $body,
            Samples::I64($values) => $body,
            Samples::F32($values) => $body,
            Samples::F64($values) => $body,
        }
    };
}

pub(crate) use with_samples;

impl Samples {
    /// The type of these samples.
    pub fn sample_type(&self) -> SampleType {
        match self {
            Samples::Bit(_) => SampleType::Bit,
            Samples::U8(_) => SampleType::U8,
            Samples::U16(_) => SampleType::U16,
            Samples::U32(_) => SampleType::U32,
            Samples::U64(_) => SampleType::U64,
            Samples::I8(_) => SampleType::I8,
            Samples::I16(_) => SampleType::I16,
            Samples::I32(_) => SampleType::I32,
            Samples::I64(_) => SampleType::I64,
            Samples::F32(_) => SampleType::F32,
            Samples::F64(_) => SampleType::F64,
        }
    }

    /// An empty vector of the given type with room for `capacity` samples.
    pub fn with_capacity(sample_type: SampleType, capacity: usize) -> Samples {
        match sample_type {
            SampleType::Bit => Samples::Bit(Vec::with_capacity(capacity)),
            SampleType::U8 => Samples::U8(Vec::with_capacity(capacity)),
            SampleType::U16 => Samples::U16(Vec::with_capacity(capacity)),
            SampleType::U32 => Samples::U32(Vec::with_capacity(capacity)),
            SampleType::U64 => Samples::U64(Vec::with_capacity(capacity)),
            SampleType::I8 => Samples::I8(Vec::with_capacity(capacity)),
            SampleType::I16 => Samples::I16(Vec::with_capacity(capacity)),
            SampleType::I32 => Samples::I32(Vec::with_capacity(capacity)),
            SampleType::I64 => Samples::I64(Vec::with_capacity(capacity)),
            SampleType::F32 => Samples::F32(Vec::with_capacity(capacity)),
            SampleType::F64 => Samples::F64(Vec::with_capacity(capacity)),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        with_samples!(self, values => values.len())
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`, which must be of the same type; returns false (and appends nothing)
    /// when the types differ.
    pub fn append(&mut self, other: Samples) -> bool {
        match (self, other) {
            (Samples::Bit(a), Samples::Bit(b)) => a.extend(b),
            (Samples::U8(a), Samples::U8(b)) => a.extend(b),
            (Samples::U16(a), Samples::U16(b)) => a.extend(b),
            (Samples::U32(a), Samples::U32(b)) => a.extend(b),
            (Samples::U64(a), Samples::U64(b)) => a.extend(b),
            (Samples::I8(a), Samples::I8(b)) => a.extend(b),
            (Samples::I16(a), Samples::I16(b)) => a.extend(b),
            (Samples::I32(a), Samples::I32(b)) => a.extend(b),
            (Samples::I64(a), Samples::I64(b)) => a.extend(b),
            (Samples::F32(a), Samples::F32(b)) => a.extend(b),
            (Samples::F64(a), Samples::F64(b)) => a.extend(b),
            _ => return false,
        }
        true
    }

    /// The samples as f32. 32 and 64-bit integers above 2^24 lose their lowest bits, as they
    /// would in any f32 pipeline; `convert` writes the source samples instead.
    // N.B. The casts are no-ops for the f32 and f64 arms of the sample macro.
    #[allow(clippy::unnecessary_cast)]
    pub fn to_f32(&self) -> Vec<f32> {
        with_samples!(self, values => values.iter().map(|&v| v as f32).collect())
    }

    /// Sample `i` as f64.
    // N.B. The casts are no-ops for the f32 and f64 arms of the sample macro.
    #[allow(clippy::unnecessary_cast)]
    pub fn get_f64(&self, i: usize) -> f64 {
        with_samples!(self, values => values[i] as f64)
    }
}
