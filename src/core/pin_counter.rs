//! The token's PIN retry counter, as its flags report it (PKCS#11 CK_TOKEN_INFO.flags), and
//! whether keyrite may spend a login attempt on it. Read before every C_Login: a login keyrite
//! cannot be sure of must never be the one that locks the token.
//!
//! What the flags mean differs between tokens. PKCS#11 defines CKF_USER_PIN_COUNT_LOW as "an
//! incorrect PIN was entered at least once since the last successful login": SoftHSM2 2.6.1 sets
//! it after one wrong PIN and never sets FINAL_TRY or LOCKED (it does not lock); kryoptic sets
//! COUNT_LOW with three tries left, FINAL_TRY with one, and LOCKED after ten wrong PINs.

/// PKCS#11 token flags (pkcs11t.h).
pub const CKF_USER_PIN_COUNT_LOW: u64 = 0x0001_0000;
pub const CKF_USER_PIN_FINAL_TRY: u64 = 0x0002_0000;
pub const CKF_USER_PIN_LOCKED: u64 = 0x0004_0000;
pub const CKF_SO_PIN_COUNT_LOW: u64 = 0x0010_0000;
pub const CKF_SO_PIN_FINAL_TRY: u64 = 0x0020_0000;
pub const CKF_SO_PIN_LOCKED: u64 = 0x0040_0000;

/// One PIN's counter flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PinCounter {
    pub count_low: bool,
    pub final_try: bool,
    pub locked: bool,
}

/// Why a login is refused before it is attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinRefusal {
    #[error("the token reports the PIN locked (CKF_{0}_PIN_LOCKED): no login can succeed")]
    Locked(&'static str),
    #[error(
        "the token reports one PIN try left (CKF_{0}_PIN_FINAL_TRY): one more wrong PIN locks it"
    )]
    FinalTry(&'static str),
}

impl PinCounter {
    /// The user PIN's counter from CK_TOKEN_INFO.flags.
    pub fn user(flags: u64) -> PinCounter {
        PinCounter {
            count_low: flags & CKF_USER_PIN_COUNT_LOW != 0,
            final_try: flags & CKF_USER_PIN_FINAL_TRY != 0,
            locked: flags & CKF_USER_PIN_LOCKED != 0,
        }
    }

    /// The security officer's PIN counter from CK_TOKEN_INFO.flags.
    pub fn so(flags: u64) -> PinCounter {
        PinCounter {
            count_low: flags & CKF_SO_PIN_COUNT_LOW != 0,
            final_try: flags & CKF_SO_PIN_FINAL_TRY != 0,
            locked: flags & CKF_SO_PIN_LOCKED != 0,
        }
    }

    /// Whether a login may be attempted. `who` names the PIN in the message ("USER" or "SO").
    /// LOCKED and FINAL_TRY refuse: keyrite never spends the last try. COUNT_LOW alone does not
    /// refuse: by the standard's definition it is set by one wrong PIN and cleared only by a
    /// successful login, so refusing it would leave a quorum token (whose PIN nobody holds)
    /// unusable forever after one failed attempt; it is reported as a warning instead.
    pub fn may_log_in(self, who: &'static str) -> Result<(), PinRefusal> {
        if self.locked {
            Err(PinRefusal::Locked(who))
        } else if self.final_try {
            Err(PinRefusal::FinalTry(who))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_on_every_flag_value() {
        // (flags, user decision) for every combination of the three user flags, with the SO
        // flags set in half of them to show they do not leak into the user's decision.
        let cases: [(u64, Result<(), PinRefusal>); 8] = [
            (0, Ok(())),
            (CKF_USER_PIN_COUNT_LOW, Ok(())),
            (CKF_USER_PIN_FINAL_TRY, Err(PinRefusal::FinalTry("USER"))),
            (
                CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY,
                Err(PinRefusal::FinalTry("USER")),
            ),
            (CKF_USER_PIN_LOCKED, Err(PinRefusal::Locked("USER"))),
            (
                CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW,
                Err(PinRefusal::Locked("USER")),
            ),
            (
                CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY,
                Err(PinRefusal::Locked("USER")),
            ),
            (
                CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_COUNT_LOW,
                Err(PinRefusal::Locked("USER")),
            ),
        ];
        for (i, (flags, want)) in cases.into_iter().enumerate() {
            let so_noise = if i % 2 == 0 {
                CKF_SO_PIN_LOCKED | CKF_SO_PIN_FINAL_TRY
            } else {
                0
            };
            assert_eq!(
                PinCounter::user(flags | so_noise).may_log_in("USER"),
                want,
                "flags {flags:#x}"
            );
        }
        assert_eq!(
            PinCounter::so(CKF_SO_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED).may_log_in("SO"),
            Err(PinRefusal::FinalTry("SO"))
        );
        assert!(PinCounter::user(CKF_USER_PIN_COUNT_LOW).count_low);
        assert_eq!(
            PinRefusal::FinalTry("USER").to_string(),
            "the token reports one PIN try left (CKF_USER_PIN_FINAL_TRY): one more wrong PIN locks it"
        );
    }
}
