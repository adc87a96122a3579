//! [`Rng`]: the model's only source of randomness, seeded, so a seed
//! reproduces a run exactly.

/// Virtual milliseconds since the model started.
pub type Ms = u64;

/// A SplitMix64 generator (Steele, Lea and Flood, 2014): tiny, fast and
/// good enough for timing jitter and name suffixes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

/// The alphabet Kubernetes uses for generated name suffixes
/// (`k8s.io/apimachinery/pkg/util/rand`: no vowels, no ambiguous digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// A uniform duration in `lo..=hi`.
    pub fn range(&mut self, lo: Ms, hi: Ms) -> Ms {
        if hi <= lo {
            lo
        } else {
            lo + self.below(hi - lo + 1)
        }
    }

    /// `base` plus up to `factor × base` (k8s `wait.Jitter`).
    pub fn jitter(&mut self, base: Ms, factor: f64) -> Ms {
        let extra = (base as f64 * factor) as u64;
        base + self.below(extra + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(n);
        s
    }

    /// A Kubernetes-style name suffix of `n` characters.
    pub fn suffix(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| SUFFIX_ALPHABET[self.below(SUFFIX_ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_bounds_hold() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            let r = a.range(10, 20);
            b.range(10, 20);
            assert!((10..=20).contains(&r));
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
        assert_eq!(a.suffix(5).len(), 5);
        assert_eq!(a.hex(20).len(), 20);
    }
}
