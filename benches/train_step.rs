//! `cargo bench --bench train_step`: training step time of both variants at 32^3 and 64^3
//! chunks on the CPU (burn's flex backend), batch 1, printed as a table.
//!
//! Set `CTUQ_BENCH_STEPS` to change the number of timed steps (default 3).

use burn::tensor::Device;
use ctuq::model::{ModelConfig, Variant};
use ctuq::train::bench::{format_table, time_training_steps};

fn main() -> anyhow::Result<()> {
    let steps = std::env::var("CTUQ_BENCH_STEPS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(3);
    let device = Device::flex();
    let mut timings = Vec::new();
    for side in [32, 64] {
        for variant in Variant::ALL {
            let config = ModelConfig::new(variant);
            timings.push(time_training_steps(&config, [side; 3], 1, steps, &device)?);
        }
    }
    print!("{}", format_table("CPU (flex)", &timings));
    Ok(())
}
