//! Deterministic identifiers: uids and generated name suffixes come from a
//! seed and a counter, never from randomness, so a seeded twin is
//! reproducible.

/// The alphabet Kubernetes uses for generated name suffixes
/// (`k8s.io/apimachinery/pkg/util/rand`): no vowels, no confusable digits.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A seeded generator of identifiers.
#[derive(Clone, Debug)]
pub struct IdGen {
    seed: u64,
    counter: u64,
}

impl IdGen {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { seed, counter: 0 }
    }

    /// The next 64 pseudo-random bits (splitmix64 over seed + counter).
    pub fn next_u64(&mut self) -> u64 {
        self.counter += 1;
        splitmix64(self.seed ^ self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// A random-looking, deterministic RFC 4122 version-4 UUID.
    pub fn uid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` characters from the Kubernetes name-suffix alphabet.
    pub fn suffix(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| ALPHANUMS[(self.next_u64() % ALPHANUMS.len() as u64) as usize] as char)
            .collect()
    }

    /// A ReplicaSet-style pod-template hash (10 characters).
    pub fn template_hash(&mut self) -> String {
        self.suffix(10)
    }
}

/// splitmix64, a small well-mixed 64-bit generator step.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_seed_and_well_formed() {
        let mut a = IdGen::new(7);
        let mut b = IdGen::new(7);
        let mut c = IdGen::new(8);
        let (ua, ub, uc) = (a.uid(), b.uid(), c.uid());
        assert_eq!(ua, ub);
        assert_ne!(ua, uc);
        assert_eq!(ua.len(), 36);
        assert_eq!(&ua[14..15], "4");
        assert!(matches!(&ua[19..20], "8" | "9" | "a" | "b"), "{ua}");
        let s = a.suffix(5);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|c| ALPHANUMS.contains(&c)));
    }
}
