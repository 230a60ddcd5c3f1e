//! The codes `devdist apply` can record for a device or a job (results.csv's `code`), each with
//! what it means, what apply does about it and what the operator should do: the table behind
//! `devdist explain CODE`. What apply does is [`handling`]'s to say, derived from the one
//! classification of [`crate::error`]; a test holds every row of [`PLATFORM_CODES`] to it.

use crate::error::{is_auth_code, is_job_limit_code, is_retryable_code};
use crate::results::CODE_DISTRIBUTED;

/// A device `apply` left out of a job's result file, when the job was interrupted (status 3)
/// and no attempt remains: where it is, is unknown.
pub const CODE_INTERRUPTED: &str = "interrupted";

/// A device missing from a finished job's result file that QueryDeviceProvisioning does not
/// show at a target: where it is, is unknown.
pub const CODE_NOT_IN_RESULT_FILE: &str = "not_in_result_file";

/// A device whose job the platform stopped showing (deleted by someone) while
/// QueryDeviceProvisioning showed it, twice, not at one of the job's targets: its job did not
/// move it. Not re-driven blindly: look at it first.
pub const CODE_JOB_VANISHED: &str = "job_vanished";

/// What `devdist apply` (and after it `devdist redrive`) does with a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handling {
    /// `200`: the device was distributed.
    Distributed,
    /// Busy or too fast ([`is_retryable_code`]): retried; a device that failed with it is
    /// re-driven.
    Retried,
    /// The account is at its job limit ([`is_job_limit_code`]): the Create is queued again.
    JobLimit,
    /// Credentials, signature or clock refused ([`is_auth_code`]): apply stops.
    Credentials,
    /// Refused for good: the devices fail and are not re-driven.
    Refused,
    /// The request may or may not have been carried out: the devices' outcome is unknown;
    /// apply reconciles, redrive plans them again.
    Unsettled,
}

impl Handling {
    /// Whether apply tries again, and what happens to the devices.
    pub fn apply(self) -> &'static str {
        match self {
            Handling::Distributed => "Not an error: the device was distributed.",
            Handling::Retried => {
                "Yes. The client tries the call again (up to 6 attempts, backing off); a Create refused this way \
                 is queued again, and a read still refused after apply's own retries stops apply (exit 5). In a \
                 job's result file it fails the device."
            }
            Handling::JobLimit => {
                "Yes: the account already runs its maximum of jobs; apply queues the Create again and sends it \
                 when a job has finished. No device fails for it."
            }
            Handling::Credentials => {
                "No: apply stops (exit 5) before the job is created. No device fails for it; the journal keeps \
                 everything done so far."
            }
            Handling::Refused => {
                "No: the platform refused for good. A refused Create fails every device of its job; in a job's \
                 result file the code fails that device."
            }
            Handling::Unsettled => {
                "Not as such: the request may have been carried out. apply reconciles a Create \
                 (ListDeviceDistributeJob) and retries reads; a device left with this code is `unknown` in \
                 results.csv."
            }
        }
    }

    /// What the operator does next, about redriving in particular.
    pub fn next(self) -> &'static str {
        match self {
            Handling::Distributed => "Nothing. `devdist return DIR --out NEW` can send it back later.",
            Handling::Retried => "`devdist redrive DIR --out NEW` plans the devices that failed with it again.",
            Handling::JobLimit => "Nothing; let apply wait, or finish other jobs of the account.",
            Handling::Credentials => "Fix what the code says, then run `devdist apply DIR` again: it resumes.",
            Handling::Refused => {
                "Do not redrive: the same request gets the same answer, and `devdist redrive` leaves these devices \
                 out (refused_by_platform). Fix the cause, then plan the devices again."
            }
            Handling::Unsettled => {
                "`devdist redrive DIR --out NEW` plans the devices left unknown again; run it once apply has \
                 finished (a reconciled job may still settle them)."
            }
        }
    }
}

/// What apply does with `code`: the classification of [`crate::error`] ([`is_auth_code`],
/// [`is_retryable_code`], [`is_job_limit_code`]), with the codes the client and apply make up
/// themselves (`transport.*`, `client.*`, [`CODE_INTERRUPTED`], [`CODE_NOT_IN_RESULT_FILE`])
/// as `client.rs` and apply treat them.
pub fn handling(code: &str) -> Handling {
    match code {
        CODE_DISTRIBUTED => Handling::Distributed,
        // A connection that never opened: surely not sent, retried like throttling.
        "transport.connect" => Handling::Retried,
        // Sent, answer lost or unreadable: a Create may exist.
        "transport.timeout" | "transport.io" | "client.BadResponse" | "client.NoJobId" => Handling::Unsettled,
        CODE_INTERRUPTED | CODE_NOT_IN_RESULT_FILE => Handling::Unsettled,
        _ if is_auth_code(code) => Handling::Credentials,
        _ if is_retryable_code(code) => Handling::Retried,
        _ if is_job_limit_code(code) => Handling::JobLimit,
        _ => Handling::Refused,
    }
}

/// One code apply can record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformCode {
    /// The code, exactly as the platform (or the client) writes it.
    pub code: &'static str,
    /// What apply does; always [`handling`] of `code` (a test checks every row).
    pub handling: Handling,
    /// What it means.
    pub meaning: &'static str,
    /// What to do about this code in particular, beyond [`Handling::next`]; may be empty.
    pub action: &'static str,
}

const fn code(code: &'static str, handling: Handling, meaning: &'static str, action: &'static str) -> PlatformCode {
    PlatformCode { code, handling, meaning, action }
}

use Handling::{Credentials, Distributed, JobLimit, Refused, Retried, Unsettled};

/// Every code apply can record that devdist knows: the platform's (docs/wire.md §5,
/// PLATFORM-API.md §3.3) and those the client and apply make up. A code the platform answers
/// that is not here is still handled by [`handling`].
pub const PLATFORM_CODES: [PlatformCode; 42] = [
    code(CODE_DISTRIBUTED, Distributed, "The device was distributed (a device's code in a job's result file).", ""),
    // Busy or too fast.
    code(
        "Throttling.User",
        Retried,
        "The account called the API faster than its limit allows.",
        "If it recurs, lower `devdist apply --rate-scale` or stop other tools calling with the same account.",
    ),
    code("Throttling.Api", Retried, "The API as a whole is being throttled.", "If it recurs, try again later."),
    code("Throttling", Retried, "Flow control refused the call.", "If it recurs, lower `devdist apply --rate-scale`."),
    code(
        "SignatureNonceUsed",
        Retried,
        "The request's nonce was used before; the client signs the next try with a new one.",
        "",
    ),
    code(
        "InternalError",
        Retried,
        "The platform failed inside (HTTP 500). A Create that gets it may have been carried out: apply reconciles it.",
        "",
    ),
    code(
        "ServiceUnavailable",
        Retried,
        "The platform is unavailable for now (HTTP 503). A Create that gets it may have been carried out: apply reconciles it.",
        "",
    ),
    code(
        "iot.system.SystemException",
        Retried,
        "The IoT service failed inside; as a device's code in a result file, the device was not distributed this time.",
        "",
    ),
    // Job limit.
    code(
        "iot.distribute.TooManyJobs",
        JobLimit,
        "The account already has its maximum of distribution jobs (10, device and product jobs together) initializing or running.",
        "Other jobs of the account (started in the console or by another tool) count too.",
    ),
    // Credentials, signature, clock.
    code(
        "InvalidAccessKeyId.NotFound",
        Credentials,
        "The AccessKey ID does not exist.",
        "Check ALIBABA_CLOUD_ACCESS_KEY_ID or the `--profile` used.",
    ),
    code(
        "InvalidAccessKeyId.Inactive",
        Credentials,
        "The AccessKey is disabled.",
        "Enable it in the RAM console or use another key.",
    ),
    code("InvalidSecurityToken.Expired", Credentials, "The STS token has expired.", "Get a fresh STS token."),
    code(
        "InvalidSecurityToken.MismatchWithAccessKey",
        Credentials,
        "The STS token belongs to another AccessKey.",
        "Use the token issued with this AccessKey.",
    ),
    code(
        "SignatureDoesNotMatch",
        Credentials,
        "The platform computed another signature: the AccessKey secret is wrong (or the request was changed on the way).",
        "Check the AccessKey secret.",
    ),
    code(
        "IncompleteSignature",
        Credentials,
        "The request's signature is missing parts.",
        "Check a proxy does not drop headers.",
    ),
    code(
        "InvalidTimeStamp.Expired",
        Credentials,
        "The machine's clock is more than 15 minutes from the platform's.",
        "Set the clock right (NTP).",
    ),
    code("InvalidTimeStamp.Format", Credentials, "The request's timestamp is not in the expected format.", ""),
    code(
        "Forbidden.RAM",
        Credentials,
        "The RAM user or role may not call this API.",
        "Grant the IoT distribution APIs (AliyunIOTFullAccess or a policy with them) to the user or role.",
    ),
    code(
        "NoPermission",
        Credentials,
        "The caller has no permission for this call.",
        "Grant the permission to the user or role.",
    ),
    // Refused for good.
    code(
        "iot.system.InstanceIdSame",
        Refused,
        "The job's source instance is its target: the devices are already where the job sends them.",
        "Check current_instance in the inventory: a job leaves from where the device is now, so a device already at its target needs no job.",
    ),
    code(
        "iot.system.InstanceNotFound",
        Refused,
        "An instance of the job (source or target) does not exist in the account.",
        "Check the instance IDs in the catalog and the routes.",
    ),
    code(
        "iot.system.UidNotFound",
        Refused,
        "The target account (TargetUid) does not exist.",
        "Check target_uid in the routes or the inventory.",
    ),
    code(
        "iot.system.IllegalRequest",
        Refused,
        "The platform refused the request's parameters (e.g. a strategy that does not fit its targets).",
        "Read the message in results.csv; check the route's strategy and targets.",
    ),
    code(
        "iot.system.BillIsOverDue",
        Refused,
        "The account has an overdue bill.",
        "Settle the bill, then plan the devices again.",
    ),
    code(
        "iot.Sre.IotInstanceNotFound",
        Refused,
        "The instance does not exist.",
        "Check the instance IDs in the catalog and the routes.",
    ),
    code(
        "iot.prod.NotExistedProduct",
        Refused,
        "The product does not exist in the source instance.",
        "Check product_key and source_instance (or current_instance) in the inventory.",
    ),
    code(
        "iot.device.NotExistedDevice",
        Refused,
        "A device of the job does not exist under the product in the source instance.",
        "Check the inventory against the platform: product_key, device_name and source_instance.",
    ),
    code(
        "iot.device.DistributeFailed",
        Refused,
        "The platform could not distribute the device (a device's code in a job's result file).",
        "Read the message in results.csv.",
    ),
    code(
        "iot.common.InvalidPageParams",
        Refused,
        "A listing asked for a page the platform does not have.",
        "Report it: apply pages within the platform's limits.",
    ),
    code(
        "MissingParameter",
        Refused,
        "A required parameter was missing (the gateway also answers Missing{Name}, e.g. MissingTargetUid).",
        "Report it with results.csv's message: devdist sends every required parameter.",
    ),
    code("InvalidParameter", Refused, "A parameter's value was refused.", "Read the message in results.csv."),
    code(
        "MissingAuthorization",
        Credentials,
        "The request carried no signature.",
        "Check that no proxy strips the Authorization header: every request devdist sends is signed.",
    ),
    // Made up by the client and apply.
    code(
        "transport.connect",
        Retried,
        "No connection to the endpoint could be opened (name, route, refused); nothing was sent.",
        "Check the endpoint (`--endpoint`) and the network.",
    ),
    code("transport.timeout", Unsettled, "The call was sent but timed out; a Create may have been carried out.", ""),
    code(
        "transport.io",
        Unsettled,
        "The connection broke after the call was sent; a Create may have been carried out.",
        "",
    ),
    code(
        "transport.setup",
        Refused,
        "TLS failed: the endpoint's certificate or protocol was refused; nothing was sent.",
        "Fix the endpoint or the CA certificate (`devdist apply --ca-cert`), then plan the devices again.",
    ),
    code(
        "client.BadResponse",
        Unsettled,
        "The platform answered with a body the client cannot read; a Create may have been carried out.",
        "",
    ),
    code("client.NoJobId", Unsettled, "The platform accepted a Create but sent no JobId; the job may exist.", ""),
    code(
        CODE_NOT_IN_RESULT_FILE,
        Unsettled,
        "The job finished but its result file does not list the device, and QueryDeviceProvisioning does not show it at a target.",
        "",
    ),
    code(
        CODE_JOB_VANISHED,
        Refused,
        "Someone deleted the job's record on the platform; QueryDeviceProvisioning showed the device, twice, not at any of the job's targets, so the job did not move it.",
        "Do not redrive blindly: check where the device is (the console, or QueryDeviceProvisioning), then plan it again if it should still move.",
    ),
    code(
        "client.EndlessPager",
        Refused,
        "A listing of the platform's jobs did not end (a NextToken repeated, or more than 1,000 pages): apply stopped rather than read without end.",
        "Run apply again; if it happens again, the endpoint is not the platform's (check --endpoint).",
    ),
    code(
        CODE_INTERRUPTED,
        Unsettled,
        "The job ended interrupted (status 3) and the device is neither in its result file nor at a target, with no attempt left.",
        "",
    ),
];

/// The row of `code`: exact, else ignoring case.
pub fn lookup(code: &str) -> Option<&'static PlatformCode> {
    PLATFORM_CODES
        .iter()
        .find(|row| row.code == code)
        .or_else(|| PLATFORM_CODES.iter().find(|row| row.code.eq_ignore_ascii_case(code)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AUTH_PREFIXES;

    #[test]
    fn every_row_agrees_with_the_classification() {
        for row in PLATFORM_CODES {
            assert_eq!(row.handling, handling(row.code), "{}", row.code);
            assert!(!row.meaning.is_empty(), "{}", row.code);
            let retried = matches!(row.handling, Handling::Retried) && !row.code.starts_with("transport.");
            assert_eq!(retried, is_retryable_code(row.code), "{}", row.code);
            assert_eq!(row.handling == Handling::Credentials, is_auth_code(row.code), "{}", row.code);
            assert_eq!(row.handling == Handling::JobLimit, is_job_limit_code(row.code), "{}", row.code);
        }
        let mut codes: Vec<&str> = PLATFORM_CODES.iter().map(|row| row.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), PLATFORM_CODES.len(), "a code is listed twice");
    }

    #[test]
    fn every_auth_prefix_and_own_code_has_a_row() {
        for prefix in AUTH_PREFIXES {
            assert!(PLATFORM_CODES.iter().any(|row| row.code.starts_with(prefix)), "{prefix}");
        }
        for code in [CODE_INTERRUPTED, CODE_NOT_IN_RESULT_FILE, CODE_DISTRIBUTED, "transport.connect"] {
            assert!(lookup(code).is_some(), "{code}");
        }
        assert_eq!(lookup("IOT.SYSTEM.INSTANCEIDSAME").map(|row| row.code), Some("iot.system.InstanceIdSame"));
        assert_eq!(handling("iot.brand.NewCode"), Handling::Refused);
        assert_eq!(handling("Throttling.Whatever"), Handling::Retried);
    }

    #[test]
    fn refusals_are_never_advised_to_be_redriven() {
        for row in PLATFORM_CODES.iter().filter(|row| row.handling == Handling::Refused) {
            let advice = format!("{} {}", row.handling.next(), row.action);
            assert!(advice.starts_with("Do not redrive"), "{}: {advice}", row.code);
            assert!(!advice.contains("redrive DIR"), "{}: {advice}", row.code);
        }
    }
}
