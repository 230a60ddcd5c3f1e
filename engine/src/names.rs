//! The platform's name rules (SPEC §1) and the safe-name rule for path components (SPEC §3).

/// Why a name breaks its rule, phrased without quoting the value (it may be a secret).
pub(crate) type NameProblem = String;

fn is_device_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.' | b':')
}

/// The first byte position that fails `allowed`, 1-based for messages.
fn first_bad(value: &str, allowed: impl Fn(u8) -> bool) -> Option<usize> {
    value.bytes().position(|b| !allowed(b)).map(|at| value[..at].chars().count() + 1)
}

/// ProductKey: 1–20 ASCII letters and digits.
pub fn check_product_key(value: &str) -> Result<(), NameProblem> {
    if value.len() > 20 {
        return Err(format!("product_key has {} characters, at most 20 allowed", value.chars().count()));
    }
    match first_bad(value, |b| b.is_ascii_alphanumeric()) {
        Some(at) => Err(format!("product_key character {at} is not an ASCII letter or digit")),
        None => Ok(()),
    }
}

/// DeviceName: 4–32 characters of `A-Z a-z 0-9 _ - @ . :`.
pub fn check_device_name(value: &str) -> Result<(), NameProblem> {
    let count = value.chars().count();
    if !(4..=32).contains(&count) {
        return Err(format!("device_name has {count} characters, 4 to 32 allowed"));
    }
    match first_bad(value, is_device_char) {
        Some(at) => Err(format!("device_name character {at} is not one of A-Z a-z 0-9 _ - @ . :")),
        None => Ok(()),
    }
}

/// DeviceSecret: 1–64 characters of the DeviceName alphabet. The message never shows the value.
pub fn check_device_secret(value: &str) -> Result<(), NameProblem> {
    let count = value.chars().count();
    if count > 64 {
        return Err(format!("device_secret has {count} characters, at most 64 allowed"));
    }
    match first_bad(value, is_device_char) {
        Some(at) => Err(format!("device_secret character {at} is not one of A-Z a-z 0-9 _ - @ . :")),
        None => Ok(()),
    }
}

/// A value that may become a path component: 1–128 characters of `A-Z a-z 0-9 _ - .`,
/// not `.` or `..`.
pub fn is_safe_name(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && value != "."
        && value != ".."
}

/// What the platform issues: 11 characters. Others are valid but draw a warning.
pub(crate) fn is_usual_product_key(value: &str) -> bool {
    value.len() == 11
}

/// What the platform issues: 32 alphanumerics. Others are valid but draw a warning.
pub(crate) fn is_usual_device_secret(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_keys() {
        assert!(check_product_key("a1BwAGVeu01").is_ok());
        assert!(check_product_key("a").is_ok());
        assert!(check_product_key(&"a".repeat(20)).is_ok());
        assert!(check_product_key(&"a".repeat(21)).is_err());
        assert_eq!(check_product_key("a1B-x").unwrap_err(), "product_key character 4 is not an ASCII letter or digit");
    }

    #[test]
    fn device_names() {
        assert!(check_device_name("dev1").is_ok());
        assert!(check_device_name("a_b-c@d.e:f").is_ok());
        assert!(check_device_name("abc").is_err());
        assert!(check_device_name(&"x".repeat(33)).is_err());
        assert!(check_device_name("dev/1").is_err());
        assert!(check_device_name("dév1").is_err());
    }

    #[test]
    fn secrets_never_echo_the_value() {
        let problem = check_device_secret("abc$defSECRETVALUE").unwrap_err();
        assert_eq!(problem, "device_secret character 4 is not one of A-Z a-z 0-9 _ - @ . :");
        assert!(check_device_secret(&"s".repeat(65)).is_err());
        assert!(check_device_secret("s").is_ok());
    }

    #[test]
    fn safe_names() {
        for good in ["iot-eu0001", "1234567890123456", "a.b_c"] {
            assert!(is_safe_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b", "ａ", &"x".repeat(129)] {
            assert!(!is_safe_name(bad), "{bad:?}");
        }
    }
}
