//! Reason codes and warnings (docs/inputs.md §6), in the order the rules are applied.

/// Declares the reason codes once: the enum, [`Reason::ALL`] in rule order and each one's
/// code, all from the one table below.
macro_rules! reasons {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal,)*) => {
        /// Why a record was rejected. Each rejected record gets exactly one: the first rule it
        /// breaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason {
            $($(#[doc = $doc])* $name,)*
        }

        impl Reason {
            /// Every reason, in rule order.
            pub const ALL: [Reason; [$($code),*].len()] = [$(Reason::$name),*];

            /// The code written in rejects and reports.
            pub fn code(self) -> &'static str {
                match self {
                    $(Reason::$name => $code,)*
                }
            }
        }
    };
}

// The rules in the order they are applied: a new rule is one line here (docs/inputs.md §6 order).
reasons! {
    /// The CSV record is structurally broken or not UTF-8.
    MalformedRecord = "malformed_record",
    /// A required field is empty.
    MissingField = "missing_field",
    /// ProductKey breaks the name rule.
    InvalidProductKey = "invalid_product_key",
    /// DeviceName breaks the name rule.
    InvalidDeviceName = "invalid_device_name",
    /// DeviceSecret breaks the name rule.
    InvalidDeviceSecret = "invalid_device_secret",
    /// The captured login does not verify.
    SignatureMismatch = "signature_mismatch",
    /// The source instance is not in the catalog.
    UnknownSourceInstance = "unknown_source_instance",
    /// The per-row target instance is not in the catalog.
    UnknownTargetInstance = "unknown_target_instance",
    /// source_region disagrees with the catalog.
    RegionMismatch = "region_mismatch",
    /// The source instance belongs to another account.
    NotOwner = "not_owner",
    /// No per-row target and no route matches.
    NoRoute = "no_route",
    /// The destination is not allowed.
    InvalidTarget = "invalid_target",
    /// specified_region to where the device is now.
    AlreadyAtTarget = "already_at_target",
    /// The platform refused the device for good in the run being re-driven (`platform_code`
    /// column, written by `devdist redrive` only).
    RefusedByPlatform = "refused_by_platform",
    /// Not confirmed distributed by the run being returned (`platform_code` column, written by
    /// `devdist return` only).
    NotReturned = "not_returned",
    /// The same device with different secrets or destinations: every copy.
    DuplicateConflict = "duplicate_conflict",
    /// An identical later copy of an accepted record.
    DuplicateRecord = "duplicate_record",
    /// The product is authorized or transferred.
    ProductBlocked = "product_blocked",
    /// A target instance's quota would be exceeded.
    TargetCapacityExceeded = "target_capacity_exceeded",
}

impl Reason {
    /// Whether only a plan `devdist redrive` or `devdist return` derives can give this
    /// reason; reports leave it out when no record has it, so other plans report exactly the
    /// codes of docs/inputs.md §6.
    pub const fn redrive_only(self) -> bool {
        matches!(self, Reason::RefusedByPlatform | Reason::NotReturned)
    }
}

/// Something an operator should know about an accepted device; not a reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Warning {
    /// The device and its gateway go to different destinations.
    TopologySplit,
    /// Cross-account: the job must be created in the console.
    ConsoleOnly,
    /// ProductKey is not the 11 characters the platform issues.
    UnusualProductKey,
    /// DeviceSecret is not the 32 alphanumerics the platform issues.
    UnusualDeviceSecret,
    /// The device's gateway is not an accepted device of the plan.
    GatewayNotAccepted,
}

impl Warning {
    /// Every warning, in declaration order (so `warning as usize` indexes it).
    pub const ALL: [Warning; 5] = [
        Warning::TopologySplit,
        Warning::ConsoleOnly,
        Warning::UnusualProductKey,
        Warning::UnusualDeviceSecret,
        Warning::GatewayNotAccepted,
    ];

    /// The code written in reports.
    pub fn code(self) -> &'static str {
        match self {
            Warning::TopologySplit => "topology_split",
            Warning::ConsoleOnly => "console_only",
            Warning::UnusualProductKey => "unusual_product_key",
            Warning::UnusualDeviceSecret => "unusual_device_secret",
            Warning::GatewayNotAccepted => "gateway_not_accepted",
        }
    }
}

/// What a reason code or warning means, the rule behind it (docs/inputs.md §6) and how to fix the input: the
/// one text that `devdist explain` prints and report.html shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    /// One sentence: what happened to the record or device.
    pub meaning: &'static str,
    /// The rule in docs/inputs.md that decides it, with its section.
    pub rule: &'static str,
    /// What to change in the inventory, catalog or plan.
    pub fix: &'static str,
}

const fn explained(meaning: &'static str, rule: &'static str, fix: &'static str) -> Explanation {
    Explanation { meaning, rule, fix }
}

impl Reason {
    /// What this code means, its rule and its fix.
    pub fn explain(self) -> Explanation {
        match self {
            Reason::MalformedRecord => explained(
                "The CSV record is structurally broken: wrong field count, bad quoting, or bytes that are not UTF-8.",
                "docs/inputs.md §6.1: a record that cannot be read as one row of the header's columns is rejected first.",
                "Re-export the inventory as UTF-8 CSV with one row per device, every field that holds a comma, quote or line break quoted.",
            ),
            Reason::MissingField => explained(
                "A required field (product_key, device_name, device_secret or source_instance) is empty.",
                "docs/inputs.md §3.1: the certificate and the source instance are required in every record.",
                "Fill in the empty column named in the detail, or drop the record if the device no longer exists.",
            ),
            Reason::InvalidProductKey => explained(
                "The ProductKey is not 1 to 20 ASCII letters and digits.",
                "docs/inputs.md §5.1: a ProductKey is 1–20 ASCII letters and digits (the platform issues 11).",
                "Copy the ProductKey from the console again; look for spaces, dashes or look-alike letters.",
            ),
            Reason::InvalidDeviceName => explained(
                "The DeviceName is not 4 to 32 characters of A-Z a-z 0-9 _ - @ . :",
                "docs/inputs.md §5.1: a DeviceName is 4–32 characters of A-Z a-z 0-9 _ - @ . :",
                "Correct the name to the one the platform holds; the platform never accepts such a name, so the record is likely a typo.",
            ),
            Reason::InvalidDeviceSecret => explained(
                "The DeviceSecret is not 1 to 64 characters of the DeviceName alphabet.",
                "docs/inputs.md §5.1: a DeviceSecret is 1–64 characters of A-Z a-z 0-9 _ - @ . : (the platform issues 32 alphanumerics).",
                "Export the secret again from the platform; a truncated or padded secret will not let the device log in.",
            ),
            Reason::SignatureMismatch => explained(
                "The captured MQTT login does not verify: the recomputed password differs, or sign_method is unknown.",
                "docs/inputs.md §6.1 and §5.3: password = hex(HMAC(DeviceSecret, clientId…deviceName…productKey…[timestamp…])), hmacmd5, hmacsha1 or hmacsha256.",
                "The secret in the inventory is probably not the device's real one: export it again, or clear sign_password to skip the check.",
            ),
            Reason::UnknownSourceInstance => explained(
                "The source_instance is not in the instance catalog.",
                "docs/inputs.md §4: instances come from the catalog file plus the six built-in public instances.",
                "Add the instance to instances.csv, or correct the instance id in the inventory.",
            ),
            Reason::UnknownTargetInstance => explained(
                "The per-row target_instance is not in the instance catalog.",
                "docs/inputs.md §4: every target instance must be in the catalog (a route naming one is a plan error instead).",
                "Add the instance to instances.csv, or correct target_instance in the inventory.",
            ),
            Reason::RegionMismatch => explained(
                "The record's source_region disagrees with the region the catalog gives its source instance.",
                "docs/inputs.md §3.1: source_region is optional and, when present, is checked against the catalog.",
                "Correct source_region (or the catalog's region), or leave the column empty to use the catalog's.",
            ),
            Reason::NotOwner => explained(
                "The source instance belongs to another account than the plan's.",
                "docs/inputs.md §6.1: only the account that owns the source instance can distribute its devices.",
                "Run a separate plan under the owning account, or correct source_instance.",
            ),
            Reason::NoRoute => explained(
                "The record has no per-row target and no route in the plan matches it.",
                "docs/inputs.md §2.4: routes are tried in file order and the first whose match keys all hold wins.",
                "Add a route that matches the record's product, instance or region, or give the record a target_instance.",
            ),
            Reason::InvalidTarget => explained(
                "The destination is not allowed: cross-account nearest_access, a cross-account target that includes the source, a target owned by another account, or an unsafe uid or instance id.",
                "docs/inputs.md §1 and §6: cross-account distribution is specified_region only and never inside one instance; uids and instance ids are safe names.",
                "Use specified_region for cross-account moves, pick a target the target_uid owns, and keep ids to A-Z a-z 0-9 _ - .",
            ),
            Reason::AlreadyAtTarget => explained(
                "With specified_region, the target is where the device is now.",
                "docs/inputs.md §6.1: a device is now at current_instance when set, else at source_instance; distributing it there does nothing.",
                "Drop the record, or correct current_instance if the device has moved.",
            ),
            Reason::DuplicateConflict => explained(
                "The same device appears more than once with different secrets or destinations, so every copy is rejected.",
                "docs/inputs.md §6.2: copies that disagree on the secret, strategy, targets or target_uid cannot all be right.",
                "Keep one copy of the device, with its real secret and the one destination you mean.",
            ),
            Reason::DuplicateRecord => explained(
                "An identical later copy of an accepted record; the first copy is kept.",
                "docs/inputs.md §6.2: the first copy in input order is kept, identical later copies are rejected.",
                "Nothing is lost; remove the repeated rows from the inventory to silence it.",
            ),
            Reason::ProductBlocked => explained(
                "A record of this product is marked authorized or transferred, which blocks the whole product.",
                "docs/inputs.md §3.4 and §6.2: authorized or transferred = true on any record blocks every record of that product key.",
                "Finish or cancel the product's authorization or transfer on the platform, then clear the flag and run again.",
            ),
            Reason::TargetCapacityExceeded => explained(
                "A target instance's device quota would be exceeded; devices are admitted in input order until it is full.",
                "docs/inputs.md §6.2: headroom = device_quota − devices_in_use; a nearest-access device needs headroom in every candidate.",
                "Raise the instance's quota (and update instances.csv), or route the remaining devices to another instance.",
            ),
            Reason::RefusedByPlatform => explained(
                "devdist redrive left the device out: the platform refused it for good in an earlier apply (the detail names its code, message and job).",
                "docs/plan-folder.md §12: only devices that failed with a retryable code or whose outcome is unknown are re-driven; permanent failures are rejected.",
                "Fix what the platform's code says (the device, the product or the target instance), then plan the device again.",
            ),
            Reason::NotReturned => explained(
                "devdist return left the device out: the runs it returns did not confirm it distributed, or did not record where it is (the detail says which).",
                "docs/plan-folder.md §12: a return sends home only the devices apply's results show distributed to one known instance.",
                "Re-drive or audit the device first; once it is confirmed distributed, return it.",
            ),
        }
    }
}

impl Warning {
    /// What this warning means, its rule and what to do about it.
    pub fn explain(self) -> Explanation {
        match self {
            Warning::TopologySplit => explained(
                "An accepted device and its accepted gateway go to different destinations, so the sub-device loses its gateway there.",
                "docs/inputs.md §1 and §6: gateway topology is cleared on distribution; devdist warns when it would be split.",
                "Route the gateway and its sub-devices to the same destination, or plan to rebuild the topology at the destination.",
            ),
            Warning::ConsoleOnly => explained(
                "The device goes to another account, which only the console can do; the API cannot create such a job.",
                "docs/inputs.md §1.5: cross-account distribution needs a verification code sent to the target account, valid 5 minutes.",
                "Create each console job by hand (jobs/jobs.csv, api = console) with the target account's owner ready to read out the code.",
            ),
            Warning::UnusualProductKey => explained(
                "The ProductKey is valid but not the 11 characters the platform issues.",
                "docs/inputs.md §5.1: the platform issues 11-character ProductKeys; others are allowed but unusual.",
                "Check the key against the console; an export that cut or padded it would make every device of the product fail.",
            ),
            Warning::UnusualDeviceSecret => explained(
                "The DeviceSecret is valid but not the 32 alphanumerics the platform issues.",
                "docs/inputs.md §5.1: the platform issues 32 alphanumeric secrets; others are allowed but unusual.",
                "Check the secret against the platform; a wrong secret travels unchanged and the device will not log in.",
            ),
            Warning::GatewayNotAccepted => explained(
                "The device names a gateway that is not an accepted device of this plan (not in the inventory, or rejected), so it \
                 travels without it and loses its gateway at the destination.",
                "docs/inputs.md §3.4 and §6.3: gateway topology is cleared on distribution; a sub-device should travel with its gateway.",
                "Add the gateway to the inventory (or fix why it was rejected: rejects.csv), or correct the gateway column; \
                 warnings.csv lists each such device with its row.",
            ),
        }
    }
}
