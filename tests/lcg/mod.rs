//! The 64-bit linear congruential generator the reference scripts reproduce
//! exactly in Python: `state = state · 6364136223846793005 + 1442695040888963407
//! (mod 2⁶⁴)`, and `(state >> 11) / 2⁵³` a uniform draw in [0, 1).

/// The generator's state.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next uniform draw in [0, 1).
    pub fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / 9007199254740992.0
    }
}
