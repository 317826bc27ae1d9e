//! `none`: the endpoint accepts unsigned requests (internal senders, tests).
//! The unguessable `ep_` id in the URL is the only protection.

use super::VerifyError;

pub fn verify() -> Result<(), VerifyError> {
    Ok(())
}
