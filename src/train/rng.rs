//! A tiny seeded random generator (SplitMix64) for shuffling and augmentation.
//!
//! Training needs reproducible chunk orders so that a run resumed mid-epoch skips exactly the
//! batches it already did; a generator defined here cannot change under a dependency update.

/// SplitMix64 (Steele, Lea and Flood 2014): fast, 64-bit state, good enough for shuffling.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator for `seed`; the same seed gives the same sequence.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one epoch of a run, independent of the other epochs.
    pub fn for_epoch(seed: u64, epoch: usize) -> Self {
        let mut mixer = Self::new(seed ^ (epoch as u64).wrapping_mul(0xA076_1D64_78BD_642F));
        Self::new(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        // The modulo bias is below 2^-40 for any n a volume can have.
        (self.next_u64() % n as u64) as usize
    }

    /// Shuffles a slice in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_epochs_differ() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SplitMix64::new(5);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SplitMix64::new(5);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        let mut e1 = SplitMix64::for_epoch(5, 1);
        let mut e2 = SplitMix64::for_epoch(5, 2);
        assert_ne!(e1.next_u64(), e2.next_u64());
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut items: Vec<usize> = (0..100).collect();
        SplitMix64::new(1).shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }
}
