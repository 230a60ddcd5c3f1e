//! The platform's name rules (docs/inputs.md §5.1) and the safe-name rule for path components (docs/inputs.md §5.2).

/// Why a name breaks its rule, phrased without quoting the value (it may be a secret).
pub(crate) type NameProblem = String;

// The byte classes of the rules, one bit each in `CLASSES`: every record passes three names
// through them, so each byte costs one table lookup.
/// `A-Z a-z 0-9` (ProductKey).
const ALNUM: u8 = 1;
/// `A-Z a-z 0-9 _ - @ . :` (DeviceName and DeviceSecret).
const DEVICE: u8 = 2;
/// `A-Z a-z 0-9 _ - .` (safe names).
const SAFE: u8 = 4;

static CLASSES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let alnum = byte.is_ascii_alphanumeric();
        let mut class = 0;
        if alnum {
            class |= ALNUM;
        }
        if alnum || matches!(byte, b'_' | b'-' | b'@' | b'.' | b':') {
            class |= DEVICE;
        }
        if alnum || matches!(byte, b'_' | b'-' | b'.') {
            class |= SAFE;
        }
        classes[b] = class;
        b += 1;
    }
    classes
};

fn all_in(value: &str, class: u8) -> bool {
    value.bytes().all(|b| CLASSES[b as usize] & class != 0)
}

/// The first character outside `class`, as a message names it: its 1-based position, and
/// what it is when it cannot be seen (a trailing space, a tab, U+00A0…). A visible character is
/// not shown: the value may be a secret. Identifier cells are never trimmed, so a stray space
/// from a spreadsheet is refused, and said to be one.
fn first_bad(value: &str, class: u8) -> Option<String> {
    let at = value.bytes().position(|b| CLASSES[b as usize] & class == 0)?;
    let position = value[..at].chars().count() + 1;
    let c = value[at..].chars().next().expect("a character starts there");
    let place = if at == 0 {
        "leading "
    } else if at + c.len_utf8() == value.len() {
        "trailing "
    } else {
        ""
    };
    let what = match c {
        ' ' => format!(" (a {place}space)"),
        '\t' => format!(" (a {place}tab)"),
        c if c.is_whitespace() || devdist_formats::is_invisible(c) => {
            format!(" (U+{:04X}, a {place}character that cannot be seen)", u32::from(c))
        }
        _ => String::new(),
    };
    Some(format!("{position}{what}"))
}

/// The length in characters of a DeviceName or DeviceSecret, and its first character outside
/// their alphabet. In the usual case every byte is in the alphabet, so the value is ASCII and
/// its length in bytes is its length in characters: one pass.
fn device_text(value: &str) -> (usize, Option<String>) {
    match first_bad(value, DEVICE) {
        None => (value.len(), None),
        bad => (value.chars().count(), bad),
    }
}

const DEVICE_ALPHABET: &str = "is not one of A-Z a-z 0-9 _ - @ . :";

/// ProductKey: 1–20 ASCII letters and digits.
pub fn check_product_key(value: &str) -> Result<(), NameProblem> {
    if value.len() > 20 {
        return Err(format!("product_key has {} characters, at most 20 allowed", value.chars().count()));
    }
    match first_bad(value, ALNUM) {
        Some(at) => Err(format!("product_key character {at} is not an ASCII letter or digit")),
        None => Ok(()),
    }
}

/// DeviceName: 4–32 characters of `A-Z a-z 0-9 _ - @ . :`.
pub fn check_device_name(value: &str) -> Result<(), NameProblem> {
    let (count, bad) = device_text(value);
    if !(4..=32).contains(&count) {
        return Err(format!("device_name has {count} characters, 4 to 32 allowed"));
    }
    match bad {
        Some(at) => Err(format!("device_name character {at} {DEVICE_ALPHABET}")),
        None => Ok(()),
    }
}

/// DeviceSecret: 1–64 characters of the DeviceName alphabet. The message never shows the value.
pub fn check_device_secret(value: &str) -> Result<(), NameProblem> {
    let (count, bad) = device_text(value);
    if count > 64 {
        return Err(format!("device_secret has {count} characters, at most 64 allowed"));
    }
    match bad {
        Some(at) => Err(format!("device_secret character {at} {DEVICE_ALPHABET}")),
        None => Ok(()),
    }
}

/// A value that may become a path component: 1–128 characters of `A-Z a-z 0-9 _ - .`,
/// not `.` or `..`.
pub fn is_safe_name(value: &str) -> bool {
    (1..=128).contains(&value.len()) && all_in(value, SAFE) && value != "." && value != ".."
}

/// What the platform issues: 11 characters. Others are valid but draw a warning.
pub(crate) fn is_usual_product_key(value: &str) -> bool {
    value.len() == 11
}

/// What the platform issues: 32 alphanumerics. Others are valid but draw a warning.
pub(crate) fn is_usual_device_secret(value: &str) -> bool {
    value.len() == 32 && all_in(value, ALNUM)
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
    fn an_invisible_character_is_named_never_a_visible_one() {
        let problem = |value: &str| check_device_name(value).unwrap_err();
        assert_eq!(
            problem("dev-0001 "),
            "device_name character 9 (a trailing space) is not one of A-Z a-z 0-9 _ - @ . :"
        );
        assert_eq!(
            problem(" dev-0001"),
            "device_name character 1 (a leading space) is not one of A-Z a-z 0-9 _ - @ . :"
        );
        assert_eq!(problem("dev\t0001"), "device_name character 4 (a tab) is not one of A-Z a-z 0-9 _ - @ . :");
        assert_eq!(
            problem("dev\u{a0}0001"),
            "device_name character 4 (U+00A0, a character that cannot be seen) is not one of A-Z a-z 0-9 _ - @ . :"
        );
        assert_eq!(
            check_device_secret("secret\u{200b}").unwrap_err(),
            "device_secret character 7 (U+200B, a trailing character that cannot be seen) is not one of A-Z a-z 0-9 _ - @ . :"
        );
        // A visible character is not shown: a secret's would be.
        assert_eq!(
            check_device_secret("s3cr#t").unwrap_err(),
            "device_secret character 5 is not one of A-Z a-z 0-9 _ - @ . :"
        );
        assert_eq!(
            check_product_key("a1B x").unwrap_err(),
            "product_key character 4 (a space) is not an ASCII letter or digit"
        );
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
