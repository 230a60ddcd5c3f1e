//! Reason codes and warnings (SPEC §3), in the order the rules are applied.

/// Why a record was rejected. Each rejected record gets exactly one: the first rule it breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The CSV record is structurally broken or not UTF-8.
    MalformedRecord,
    /// A required field is empty.
    MissingField,
    /// ProductKey breaks the name rule.
    InvalidProductKey,
    /// DeviceName breaks the name rule.
    InvalidDeviceName,
    /// DeviceSecret breaks the name rule.
    InvalidDeviceSecret,
    /// The captured login does not verify.
    SignatureMismatch,
    /// The source instance is not in the catalog.
    UnknownSourceInstance,
    /// The per-row target instance is not in the catalog.
    UnknownTargetInstance,
    /// source_region disagrees with the catalog.
    RegionMismatch,
    /// The source instance belongs to another account.
    NotOwner,
    /// No per-row target and no route matches.
    NoRoute,
    /// The destination is not allowed.
    InvalidTarget,
    /// specified_region to where the device is now.
    AlreadyAtTarget,
    /// The platform refused the device for good in the run being re-driven (`platform_code`
    /// column, written by `devdist redrive` only).
    RefusedByPlatform,
    /// The same device with different secrets or destinations: every copy.
    DuplicateConflict,
    /// An identical later copy of an accepted record.
    DuplicateRecord,
    /// The product is authorized or transferred.
    ProductBlocked,
    /// A target instance's quota would be exceeded.
    TargetCapacityExceeded,
}

impl Reason {
    /// Every reason, in rule order.
    pub const ALL: [Reason; 18] = [
        Reason::MalformedRecord,
        Reason::MissingField,
        Reason::InvalidProductKey,
        Reason::InvalidDeviceName,
        Reason::InvalidDeviceSecret,
        Reason::SignatureMismatch,
        Reason::UnknownSourceInstance,
        Reason::UnknownTargetInstance,
        Reason::RegionMismatch,
        Reason::NotOwner,
        Reason::NoRoute,
        Reason::InvalidTarget,
        Reason::AlreadyAtTarget,
        Reason::RefusedByPlatform,
        Reason::DuplicateConflict,
        Reason::DuplicateRecord,
        Reason::ProductBlocked,
        Reason::TargetCapacityExceeded,
    ];

    /// The code written in rejects and reports.
    pub fn code(self) -> &'static str {
        match self {
            Reason::MalformedRecord => "malformed_record",
            Reason::MissingField => "missing_field",
            Reason::InvalidProductKey => "invalid_product_key",
            Reason::InvalidDeviceName => "invalid_device_name",
            Reason::InvalidDeviceSecret => "invalid_device_secret",
            Reason::SignatureMismatch => "signature_mismatch",
            Reason::UnknownSourceInstance => "unknown_source_instance",
            Reason::UnknownTargetInstance => "unknown_target_instance",
            Reason::RegionMismatch => "region_mismatch",
            Reason::NotOwner => "not_owner",
            Reason::NoRoute => "no_route",
            Reason::InvalidTarget => "invalid_target",
            Reason::AlreadyAtTarget => "already_at_target",
            Reason::RefusedByPlatform => "refused_by_platform",
            Reason::DuplicateConflict => "duplicate_conflict",
            Reason::DuplicateRecord => "duplicate_record",
            Reason::ProductBlocked => "product_blocked",
            Reason::TargetCapacityExceeded => "target_capacity_exceeded",
        }
    }

    /// Whether only a `devdist redrive` plan can give this reason; reports leave it out when
    /// no record has it, so plans that are not re-drives report exactly the SPEC's codes.
    pub fn redrive_only(self) -> bool {
        self == Reason::RefusedByPlatform
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
}

impl Warning {
    /// Every warning, in declaration order (so `warning as usize` indexes it).
    pub const ALL: [Warning; 4] =
        [Warning::TopologySplit, Warning::ConsoleOnly, Warning::UnusualProductKey, Warning::UnusualDeviceSecret];

    /// The code written in reports.
    pub fn code(self) -> &'static str {
        match self {
            Warning::TopologySplit => "topology_split",
            Warning::ConsoleOnly => "console_only",
            Warning::UnusualProductKey => "unusual_product_key",
            Warning::UnusualDeviceSecret => "unusual_device_secret",
        }
    }
}
