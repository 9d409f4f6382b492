//! Cleansing: turn the many spellings of one value into one comparable form.
//!
//! The same customer is "Müller, Hans" in the loyalty program, "HANS MUELLER"
//! in the call centre and "ｈａｎｓ　ｍüｌｌｅｒ" typed on a Japanese keyboard
//! in the web shop; her phone is "030 1234567", "+49 (0)30-123 45 67" and
//! "0049301234567". Matching compares *normalised* values, derived from the
//! raw ones, which are always kept:
//!
//! - **Text** ([`fold`], [`key`]): Unicode NFKC (full-width letters and
//!   digits become their ASCII forms, ligatures split), case folding,
//!   punctuation folded to spaces, runs of whitespace collapsed; [`key`] also
//!   drops diacritics (canonical decomposition, combining marks removed, and
//!   the German and Nordic letters ß, æ, ø, œ, þ, đ, ł spelled out) for
//!   accent-insensitive comparison.
//! - **Names** ([`normalize_name`]): split into given and family names from
//!   "Family, Given" or "Given Family" order; CJK names (no spaces between
//!   family and given name) are kept whole. [`names_swapped`] detects the
//!   same two names in the opposite order.
//! - **E-mail** ([`normalize_email`]): trimmed and lower-cased, with syntax
//!   checked; optionally the provider rules that make several addresses one
//!   mailbox (Gmail ignores dots and `+tags`; Outlook, iCloud, Fastmail and
//!   others ignore `+tags`).
//! - **Phones** ([`normalize_phone`]): digits with the country calling code,
//!   E.164 style (`+4930123456`): international prefixes (`+`, `00`, `011`),
//!   the national trunk prefix (`0`, or `1` in the NANP) and the German
//!   "(0)" convention handled; extensions dropped.
//! - **Dates** ([`normalize_date`]): ISO, dotted, slashed (with a stated
//!   day/month order), compact, written-out English months and CJK
//!   `年月日` forms, validated against the calendar.
//! - **Postcodes** ([`normalize_postcode`]): upper case without spaces or
//!   dashes, in the national canonical layout where there is one (UK, NL, CA,
//!   US ZIP+4 reduced to the ZIP).
//!
//! Every function returns a typed [`Error`] for input it cannot read and
//! never panics.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::error::{Error, Result};

/// NFKC, lower case, punctuation and symbols as spaces, whitespace collapsed
/// and trimmed. Letters and digits of every script are kept.
pub fn fold(raw: &str) -> String {
    if raw.is_ascii() {
        fold_ascii(raw)
    } else {
        fold_unicode(raw)
    }
}

fn fold_unicode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.nfkc().flat_map(char::to_lowercase) {
        if is_combining_mark(c) {
            // A mark belongs to the letter before it; one with no letter is dropped.
            if !pending_space && !out.is_empty() {
                out.push(c);
            }
        } else if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else if c == '\'' || c == '’' || c == '`' {
            // O'Brien, D’Angelo: the apostrophe joins, it does not separate.
        } else {
            pending_space = true;
        }
    }
    // Dropping an apostrophe can leave two combining marks side by side in
    // a non-canonical order; one more normalisation makes folding idempotent.
    out.nfkc().collect()
}

/// [`fold`] of ASCII text, where NFKC changes nothing: the same rules, byte by byte.
fn fold_ascii(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(char::from(b.to_ascii_lowercase()));
        } else if b != b'\'' && b != b'`' {
            pending_space = true;
        }
    }
    out
}

/// [`fold`] without diacritics: "Müller" and "MULLER" give the same key
/// (as do "Straße" / "strasse", "Søren" / "soren").
pub fn key(raw: &str) -> String {
    if raw.is_ascii() {
        fold_ascii(raw)
    } else {
        key_unicode(raw)
    }
}

fn key_unicode(raw: &str) -> String {
    let folded = fold_unicode(raw);
    let mut out = String::with_capacity(folded.len());
    for c in folded.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' => out.push('o'),
            'þ' => out.push_str("th"),
            'đ' | 'ð' => out.push('d'),
            'ł' => out.push('l'),
            'ı' => out.push('i'),
            _ => out.push(c),
        }
    }
    out
}

/// Whether the character belongs to a script written without spaces between
/// a family and a given name (Han, Hiragana, Katakana, Hangul).
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x1100..=0x11FF    // Hangul jamo
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F) // CJK extensions B–F and supplement
}

/// How a name was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NameOrder {
    /// "Given Family" (or a single word).
    GivenFirst,
    /// "Family, Given".
    FamilyFirst,
    /// A CJK name, kept whole.
    Whole,
}

/// A person's name, split and folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedName {
    /// Given names, folded (empty when unknown).
    pub given: String,
    /// Family name, folded (empty when unknown; for CJK names the whole name).
    pub family: String,
    /// The whole name as `given family` keys without diacritics (CJK: as written, NFKC).
    pub full_key: String,
    /// How the raw value was ordered.
    pub order: NameOrder,
}

/// Honorifics and titles dropped from names.
const TITLES: &[&str] = &[
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "herr", "frau", "mme", "mlle", "sr",
    "sra", "srta", "dott", "ing",
];

/// Splits and folds a person's name. "Müller, Hans" and "Hans Müller" give
/// given "hans", family "müller"; titles (Dr, Mrs, Herr, …) are dropped; a
/// name in a CJK script is kept whole as the family name.
///
/// # Errors
/// [`Error::InvalidValue`] when nothing but punctuation and titles remains.
pub fn normalize_name(raw: &str) -> Result<NormalizedName> {
    let nfkc: String = raw.nfkc().collect();
    let trimmed = nfkc.trim();
    if trimmed.chars().any(is_cjk) && !trimmed.contains(',') {
        // Folded like any text, so Latin letters in a CJK name lose their
        // case ("YAMADA 太郎" = "yamada 太郎"); CJK characters have no case
        // and keep their voicing marks (`key` would strip が to か).
        let whole: String = fold(trimmed)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !whole.is_empty() {
            return Ok(NormalizedName {
                given: String::new(),
                family: whole.clone(),
                full_key: whole,
                order: NameOrder::Whole,
            });
        }
    }
    let (order, family_part, given_part) = match trimmed.split_once(',') {
        Some((family, given)) => (NameOrder::FamilyFirst, family, given),
        None => (NameOrder::GivenFirst, "", trimmed),
    };
    let words = |s: &str| -> Vec<String> {
        fold(s)
            .split(' ')
            .filter(|w| !w.is_empty() && !TITLES.contains(w))
            .map(str::to_owned)
            .collect()
    };
    let (given, family) = match order {
        NameOrder::FamilyFirst => (words(given_part).join(" "), words(family_part).join(" ")),
        _ => {
            let mut w = words(given_part);
            let family = if w.len() >= 2 {
                // Family-name particles stay with the family name: "van der Berg", "de la Cruz".
                let mut start = w.len() - 1;
                while start > 1 && PARTICLES.contains(&w[start - 1].as_str()) {
                    start -= 1;
                }
                w.split_off(start).join(" ")
            } else {
                String::new()
            };
            (w.join(" "), family)
        }
    };
    if given.is_empty() && family.is_empty() {
        return Err(Error::value(
            "name",
            raw,
            "no name left after removing punctuation and titles",
        ));
    }
    let full_key = key(&format!("{given} {family}")).trim().to_owned();
    Ok(NormalizedName {
        given,
        family,
        full_key,
        order,
    })
}

/// The matching key of a person's name in one column: the
/// [`NormalizedName::full_key`] of [`normalize_name`], so "Müller, Hans",
/// "Hans Müller" and "Dr. Hans MULLER" share the key `hans muller`, and a
/// CJK name is kept whole with its Latin letters folded. A value that is no
/// name by [`normalize_name`] (only a title, say) keeps its plain [`key`].
pub fn name_key(raw: &str) -> String {
    if raw.is_ascii() && !raw.contains(',') {
        // The common case, without NFKC and allocations per word: in
        // "Given Family" order the key is the folded words without titles.
        let folded = fold_ascii(raw);
        if !folded.split(' ').any(|w| TITLES.contains(&w)) {
            return folded;
        }
    }
    match normalize_name(raw) {
        Ok(name) => name.full_key,
        Err(_) => key(raw),
    }
}

/// Lower-case particles that belong to the family name.
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "ter", "ten",
    "zu", "af", "al", "bin", "ibn",
];

/// Whether two names are the same two names in the opposite order ("Hans
/// Müller" / "Müller Hans" written without a comma), by accent-free keys.
pub fn names_swapped(a: &NormalizedName, b: &NormalizedName) -> bool {
    if a.order == NameOrder::Whole || b.order == NameOrder::Whole {
        return false;
    }
    let (ag, af, bg, bf) = (key(&a.given), key(&a.family), key(&b.given), key(&b.family));
    !ag.is_empty() && !af.is_empty() && ag != af && ag == bf && af == bg
}

/// An e-mail address, checked and folded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedEmail {
    /// The address trimmed and lower-cased.
    pub address: String,
    /// The mailbox after provider rules (equal to `address` without them).
    pub mailbox: String,
    /// The domain.
    pub domain: String,
}

/// Providers where `+tag` suffixes reach the same mailbox.
const PLUS_TAG_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "icloud.com",
    "me.com",
    "fastmail.com",
    "protonmail.com",
    "proton.me",
];

/// How an e-mail address's mailbox is keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxRules {
    /// The address as written (trimmed and lower-cased).
    #[default]
    AsWritten,
    /// The mailbox the provider delivers to: `+tags` dropped where the
    /// provider ignores them, dots dropped for Gmail, `googlemail.com` read
    /// as `gmail.com`.
    Provider,
}

/// Trims, lower-cases and checks an e-mail address; the mailbox follows `rules`.
///
/// # Errors
/// [`Error::InvalidValue`] without exactly one `@`, with an empty local
/// part, whitespace inside, or a domain without a dot or with empty labels.
pub fn normalize_email(raw: &str, rules: MailboxRules) -> Result<NormalizedEmail> {
    let nfkc: String = raw.nfkc().collect();
    let address = nfkc.trim().trim_start_matches("mailto:").to_lowercase();
    let bad = |reason: &str| Err(Error::value("e-mail", raw, reason));
    if address.chars().any(char::is_whitespace) {
        return bad("contains whitespace");
    }
    let Some((local, domain)) = address.split_once('@') else {
        return bad("no @");
    };
    if domain.contains('@') {
        return bad("more than one @");
    }
    if local.is_empty() {
        return bad("empty local part");
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return bad("the domain needs labels separated by dots");
    }
    let mut mailbox_local = local.to_owned();
    let mut mailbox_domain = domain.to_owned();
    if rules == MailboxRules::Provider {
        if PLUS_TAG_DOMAINS.contains(&domain) {
            if let Some((base, _tag)) = mailbox_local.split_once('+') {
                mailbox_local = base.to_owned();
            }
        }
        if domain == "gmail.com" || domain == "googlemail.com" {
            mailbox_local.retain(|c| c != '.');
            mailbox_domain = "gmail.com".to_owned();
        }
        if mailbox_local.is_empty() {
            return bad("nothing left of the local part after the provider's rules");
        }
    }
    Ok(NormalizedEmail {
        mailbox: format!("{mailbox_local}@{mailbox_domain}"),
        domain: domain.to_owned(),
        address,
    })
}

/// A country's calling code and how national numbers are written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PhonePlan {
    iso: &'static str,
    calling_code: &'static str,
    /// The national trunk prefix dropped after the country code (`0`; `1` in the NANP).
    trunk: Option<char>,
    /// The prefix for dialling abroad besides `00` (the NANP's `011`).
    international: &'static str,
}

const PHONE_PLANS: &[PhonePlan] = &[
    PhonePlan {
        iso: "US",
        calling_code: "1",
        trunk: Some('1'),
        international: "011",
    },
    PhonePlan {
        iso: "CA",
        calling_code: "1",
        trunk: Some('1'),
        international: "011",
    },
    PhonePlan {
        iso: "GB",
        calling_code: "44",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "DE",
        calling_code: "49",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "AT",
        calling_code: "43",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "CH",
        calling_code: "41",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "FR",
        calling_code: "33",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "NL",
        calling_code: "31",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "BE",
        calling_code: "32",
        trunk: Some('0'),
        international: "00",
    },
    // Italy keeps the leading 0 of landlines after the country code.
    PhonePlan {
        iso: "IT",
        calling_code: "39",
        trunk: None,
        international: "00",
    },
    PhonePlan {
        iso: "ES",
        calling_code: "34",
        trunk: None,
        international: "00",
    },
    PhonePlan {
        iso: "PT",
        calling_code: "351",
        trunk: None,
        international: "00",
    },
    PhonePlan {
        iso: "SE",
        calling_code: "46",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "NO",
        calling_code: "47",
        trunk: None,
        international: "00",
    },
    PhonePlan {
        iso: "DK",
        calling_code: "45",
        trunk: None,
        international: "00",
    },
    PhonePlan {
        iso: "FI",
        calling_code: "358",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "PL",
        calling_code: "48",
        trunk: None,
        international: "00",
    },
    PhonePlan {
        iso: "IE",
        calling_code: "353",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "JP",
        calling_code: "81",
        trunk: Some('0'),
        international: "010",
    },
    PhonePlan {
        iso: "KR",
        calling_code: "82",
        trunk: Some('0'),
        international: "001",
    },
    PhonePlan {
        iso: "CN",
        calling_code: "86",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "IN",
        calling_code: "91",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "AU",
        calling_code: "61",
        trunk: Some('0'),
        international: "0011",
    },
    PhonePlan {
        iso: "NZ",
        calling_code: "64",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "BR",
        calling_code: "55",
        trunk: Some('0'),
        international: "00",
    },
    PhonePlan {
        iso: "MX",
        calling_code: "52",
        trunk: None,
        international: "00",
    },
];

/// A phone number in canonical E.164 form: `+`, country calling code,
/// national significant number (e.g. `+4930123456`).
///
/// `default_country` (ISO 3166 alpha-2, e.g. `"DE"`) says how to read
/// numbers written nationally. Full-width digits, spaces, dots, dashes,
/// brackets and an extension (`ext`, `x`, `#`, `;ext=`) are handled; the
/// German "+49 (0)30…" convention drops the bracketed trunk zero.
///
/// # Errors
/// [`Error::InvalidValue`] for an unknown default country, letters other
/// than an extension marker, or fewer than 6 or more than 15 digits in the result.
pub fn normalize_phone(raw: &str, default_country: &str) -> Result<String> {
    let plan = PHONE_PLANS
        .iter()
        .find(|p| p.iso.eq_ignore_ascii_case(default_country.trim()))
        .ok_or_else(|| {
            Error::value(
                "country",
                default_country,
                "not in the phone plan table (use an ISO 3166 alpha-2 code such as DE, US, GB)",
            )
        })?;
    let nfkc: String = raw.nfkc().collect::<String>().to_lowercase();
    // Drop an extension.
    let mut number = nfkc.as_str();
    for marker in [";ext=", "ext.", "ext", "extension", "x", "#"] {
        if let Some(at) = number.find(marker) {
            if number[..at].chars().any(|c| c.is_ascii_digit()) {
                number = &number[..at];
            }
        }
    }
    let number = number.replace("(0)", "");
    let mut digits = String::with_capacity(number.len());
    let mut plus = false;
    for c in number.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' | '\t' => {}
            _ => {
                return Err(Error::value(
                    "phone",
                    raw,
                    format!("unexpected character {c:?}"),
                ));
            }
        }
    }
    let international = if plus {
        Some(digits.as_str())
    } else if let Some(rest) = digits.strip_prefix(plan.international) {
        Some(rest)
    } else {
        digits.strip_prefix("00")
    };
    let e164 = match international {
        Some(rest) => format!("+{rest}"),
        None => {
            let national = match plan.trunk {
                Some(t) => digits.strip_prefix(t).unwrap_or(&digits),
                None => &digits,
            };
            format!("+{}{national}", plan.calling_code)
        }
    };
    let n_digits = e164.len() - 1;
    if !(6..=15).contains(&n_digits) {
        return Err(Error::value(
            "phone",
            raw,
            format!("{n_digits} digits with the country code; E.164 numbers have at most 15"),
        ));
    }
    Ok(e164)
}

/// How to read an ambiguous numeric date such as `03/05/2024`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayMonthOrder {
    /// Day first (most of the world): 03/05/2024 is 3 May.
    #[default]
    DayFirst,
    /// Month first (the United States): 03/05/2024 is 5 March.
    MonthFirst,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads a date in any of the common layouts into a calendar date:
/// `2024-03-05`, `2024/3/5`, `20240305`, `05.03.2024`, `5/3/2024` and
/// `5-3-24` (day/month by `order`), `5 March 2024`, `March 5, 2024`,
/// `2024年3月5日`; a time after the date (`T10:00:00Z`, ` 10:00`) is ignored.
/// Two-digit years are read as 1950–2049.
///
/// # Errors
/// [`Error::InvalidValue`] for an unreadable layout or an impossible date (30 February).
pub fn normalize_date(raw: &str, order: DayMonthOrder) -> Result<Date> {
    let text: String = raw.nfkc().collect::<String>().to_lowercase();
    let text = text.trim();
    let bad = |reason: &str| Error::value("date", raw, reason);
    // Drop a time part.
    let date_part = text
        .split(['t', ' '])
        .next()
        .filter(|p| p.chars().all(|c| c.is_ascii_digit() || "-./".contains(c)) && p.len() >= 6)
        .unwrap_or(text);
    let numbers: Vec<&str> = date_part
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty())
        .collect();
    let parse = |s: &str| {
        s.parse::<i32>()
            .map_err(|_| bad("not a number where one was expected"))
    };
    let month_of = |word: &str| {
        MONTHS
            .iter()
            .position(|m| word.starts_with(m) && word.len() >= 3)
            .map(|i| i as i32 + 1)
    };
    let (year, month, day) = if let [only] = numbers.as_slice() {
        if only.len() == 8 && only.chars().all(|c| c.is_ascii_digit()) {
            (parse(&only[..4])?, parse(&only[4..6])?, parse(&only[6..])?)
        } else {
            return Err(bad("an unrecognised layout"));
        }
    } else if text.contains('年') {
        // 2024年3月5日
        let parts: Vec<&str> = text
            .split(['年', '月', '日'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        match parts.as_slice() {
            [y, m, d] => (parse(y)?, parse(m)?, parse(d)?),
            _ => return Err(bad("an unrecognised 年月日 layout")),
        }
    } else if let [a, b, c] = numbers.as_slice() {
        match (month_of(a), month_of(b)) {
            // "March 5, 2024"
            (Some(m), None) => (parse(c)?, m, parse(b)?),
            // "5 March 2024"
            (None, Some(m)) => (parse(c)?, m, parse(a)?),
            _ if a.len() == 4 => (parse(a)?, parse(b)?, parse(c)?),
            _ => {
                let (x, y, z) = (parse(a)?, parse(b)?, parse(c)?);
                let year = if c.len() <= 2 {
                    if z < 50 { 2000 + z } else { 1900 + z }
                } else {
                    z
                };
                match order {
                    DayMonthOrder::DayFirst => (year, y, x),
                    DayMonthOrder::MonthFirst => (year, x, y),
                }
            }
        }
    } else {
        return Err(bad("an unrecognised layout"));
    };
    let (Ok(y), Ok(m), Ok(d)) = (i16::try_from(year), i8::try_from(month), i8::try_from(day))
    else {
        return Err(bad("a year, month or day out of range"));
    };
    Date::new(y, m, d).map_err(|e| bad(&format!("not a calendar date: {e}")))
}

/// A postcode in its country's canonical layout: upper case, spaces and
/// dashes removed, then `SW1A 1AA` (GB), `1234 AB` (NL), `K1A 0B1` (CA), the
/// 5-digit ZIP for US ZIP+4; other countries keep the compact form.
///
/// # Errors
/// [`Error::InvalidValue`] for an empty postcode, characters other than
/// letters, digits, spaces and dashes, or a US/DE postcode that is not 5 digits.
pub fn normalize_postcode(raw: &str, country: &str) -> Result<String> {
    let nfkc: String = raw.nfkc().collect();
    let mut compact = String::with_capacity(nfkc.len());
    for c in nfkc.trim().chars() {
        match c {
            ' ' | '-' | '\u{a0}' => {}
            c if c.is_ascii_alphanumeric() => compact.push(c.to_ascii_uppercase()),
            _ => {
                return Err(Error::value(
                    "postcode",
                    raw,
                    format!("unexpected character {c:?}"),
                ));
            }
        }
    }
    if compact.is_empty() {
        return Err(Error::value("postcode", raw, "empty"));
    }
    let digits_only = compact.chars().all(|c| c.is_ascii_digit());
    let country = country.trim().to_ascii_uppercase();
    Ok(match country.as_str() {
        "GB" | "CA" if compact.len() > 3 => {
            let (outward, inward) = compact.split_at(compact.len() - 3);
            format!("{outward} {inward}")
        }
        "NL" if compact.len() == 6 => format!("{} {}", &compact[..4], &compact[4..]),
        "US" => {
            if !(digits_only && (compact.len() == 5 || compact.len() == 9)) {
                return Err(Error::value(
                    "postcode",
                    raw,
                    "a US ZIP code has 5 or 5+4 digits",
                ));
            }
            compact[..5].to_owned()
        }
        "DE" | "FR" | "ES" | "IT" => {
            if !(digits_only && compact.len() == 5) {
                return Err(Error::value("postcode", raw, "expected 5 digits"));
            }
            compact
        }
        _ => compact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_folding_handles_width_case_punctuation_and_accents() {
        assert_eq!(fold("  ＨＡＮＳ　Ｍüｌｌｅｒ  "), "hans müller");
        assert_eq!(fold("O'Brien-Smith, Jr."), "obrien smith jr");
        assert_eq!(fold("ﬁne ｔｕｎｉｎｇ №５"), "fine tuning no5");
        assert_eq!(key("Müller"), key("MULLER"));
        assert_eq!(key("Straße"), "strasse");
        assert_eq!(key("Søren Kierkegård"), "soren kierkegard");
        assert_eq!(key("Łódź"), "lodz");
        assert_eq!(key("山田 太郎"), "山田 太郎");
        assert_eq!(fold("Ωμέγα-ΣΙΣ"), "ωμέγα σισ");
        assert_eq!(key("Ωμέγα"), "ωμεγα");
        assert_eq!(fold(""), "");
        assert_eq!(fold("!!!"), "");
    }

    #[test]
    fn names_are_split_ordered_and_cjk_kept_whole() {
        let a = normalize_name("Müller, Hans").unwrap();
        let b = normalize_name("Dr. Hans MÜLLER").unwrap();
        assert_eq!((a.given.as_str(), a.family.as_str()), ("hans", "müller"));
        assert_eq!((b.given.as_str(), b.family.as_str()), ("hans", "müller"));
        assert_eq!(a.full_key, "hans muller");
        assert_eq!(a.full_key, b.full_key);
        assert_eq!(a.order, NameOrder::FamilyFirst);
        let v = normalize_name("Jan van der Berg").unwrap();
        assert_eq!(
            (v.given.as_str(), v.family.as_str()),
            ("jan", "van der berg")
        );
        let m = normalize_name("Anna Maria de la Cruz").unwrap();
        assert_eq!(
            (m.given.as_str(), m.family.as_str()),
            ("anna maria", "de la cruz")
        );
        let cjk = normalize_name("山田 太郎").unwrap();
        assert_eq!(cjk.order, NameOrder::Whole);
        assert_eq!(cjk.family, "山田太郎");
        // Latin letters in a CJK name are case-folded (and full-width ones
        // narrowed); kana keep their voicing marks.
        let upper = normalize_name("YAMADA 太郎").unwrap();
        let lower = normalize_name("yamada 太郎").unwrap();
        assert_eq!(upper.order, NameOrder::Whole);
        assert_eq!(upper.full_key, "yamada太郎");
        assert_eq!(upper, lower);
        assert_eq!(normalize_name("ＹＡＭＡＤＡ 太郎").unwrap(), lower);
        assert_ne!(
            normalize_name("がっこう").unwrap().full_key,
            normalize_name("かっこう").unwrap().full_key
        );
        let full_width = normalize_name("ｊｏｈｎ ｓｍｉｔｈ").unwrap();
        assert_eq!(full_width.full_key, "john smith");
        let swapped = normalize_name("Müller Hans").unwrap();
        assert!(names_swapped(&b, &swapped));
        assert!(!names_swapped(&a, &b));
        assert!(!names_swapped(&cjk, &cjk));
        let single = normalize_name("Cher").unwrap();
        assert_eq!(
            (single.given.as_str(), single.family.as_str()),
            ("cher", "")
        );
        assert!(matches!(
            normalize_name("  , Mr. "),
            Err(Error::InvalidValue { what: "name", .. })
        ));
        assert!(matches!(
            normalize_name(""),
            Err(Error::InvalidValue { what: "name", .. })
        ));
    }

    #[test]
    fn name_keys_agree_across_orders_titles_and_case() {
        let hans = name_key("Hans Müller");
        assert_eq!(hans, "hans muller");
        for raw in [
            "Müller, Hans",
            "MÜLLER, Hans",
            "Dr. Hans Mueller",
            "Herr Hans Müller",
        ] {
            let k = name_key(raw);
            assert!(k == hans || k == "hans mueller", "{raw}: {k}");
        }
        assert_eq!(name_key("Müller, Hans"), hans);
        assert_eq!(name_key("van der Berg, Jan"), name_key("Jan van der Berg"));
        assert_eq!(name_key("YAMADA 太郎"), name_key("yamada 太郎"));
        // Not a name: the plain key, so nothing becomes missing.
        assert_eq!(name_key("Dr."), "dr");
        assert_eq!(name_key("Smith"), "smith");
    }

    #[test]
    fn emails_with_and_without_provider_rules() {
        let e =
            normalize_email("  John.Smith+news@GoogleMail.com ", MailboxRules::Provider).unwrap();
        assert_eq!(e.address, "john.smith+news@googlemail.com");
        assert_eq!(e.mailbox, "johnsmith@gmail.com");
        assert_eq!(e.domain, "googlemail.com");
        let plain = normalize_email("John.Smith+news@gmail.com", MailboxRules::AsWritten).unwrap();
        assert_eq!(plain.mailbox, plain.address);
        let outlook = normalize_email("a.b+x@outlook.com", MailboxRules::Provider).unwrap();
        assert_eq!(outlook.mailbox, "a.b@outlook.com", "Outlook keeps dots");
        let corporate = normalize_email("a.b+x@example.com", MailboxRules::Provider).unwrap();
        assert_eq!(
            corporate.mailbox, "a.b+x@example.com",
            "unknown providers keep tags"
        );
        assert_eq!(
            normalize_email("ｍａｉｌ＠ｅｘａｍｐｌｅ．ｃｏｍ", MailboxRules::AsWritten)
                .unwrap()
                .address,
            "mail@example.com"
        );
        assert_eq!(
            normalize_email("mailto:X@Y.org", MailboxRules::AsWritten)
                .unwrap()
                .address,
            "x@y.org"
        );
        for bad in [
            "",
            "no-at.example.com",
            "a@b@c.com",
            "@example.com",
            "a@localhost",
            "a b@c.com",
            "a@c..com",
            "+tag@gmail.com",
        ] {
            assert!(
                matches!(
                normalize_email(bad, MailboxRules::Provider), Err(Error::InvalidValue { what: "e-mail", value, .. }) if value == bad),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn phones_become_e164() {
        for (raw, country, want) in [
            ("030 1234567", "DE", "+49301234567"),
            ("+49 (0)30-123 45 67", "DE", "+49301234567"),
            ("0049 30 1234567", "DE", "+49301234567"),
            ("０３０　１２３４５６７", "DE", "+49301234567"),
            ("(212) 555-0143", "US", "+12125550143"),
            ("1-212-555-0143 ext. 12", "US", "+12125550143"),
            ("011 44 20 7946 0018", "US", "+442079460018"),
            ("020 7946 0018", "GB", "+442079460018"),
            ("06 12 34 56 78", "FR", "+33612345678"),
            ("06 1234 5678", "IT", "+390612345678"),
            ("03-1234-5678", "JP", "+81312345678"),
            ("+81 3 1234 5678", "de", "+81312345678"),
        ] {
            assert_eq!(
                normalize_phone(raw, country).unwrap(),
                want,
                "{raw} ({country})"
            );
        }
        assert!(matches!(
            normalize_phone("12", "DE"),
            Err(Error::InvalidValue { what: "phone", .. })
        ));
        assert!(matches!(
            normalize_phone("call me", "DE"),
            Err(Error::InvalidValue { what: "phone", .. })
        ));
        assert!(
            matches!(normalize_phone("030 1234567", "XX"), Err(Error::InvalidValue { what: "country", value, .. }) if value == "XX")
        );
        assert!(matches!(
            normalize_phone("+49 30 1234567 1234567", "DE"),
            Err(Error::InvalidValue { what: "phone", .. })
        ));
        assert!(matches!(
            normalize_phone("", "DE"),
            Err(Error::InvalidValue { what: "phone", .. })
        ));
    }

    #[test]
    fn dates_in_many_layouts() {
        let d = |y, m, day| Date::new(y, m, day).unwrap();
        for (raw, order, want) in [
            ("2024-03-05", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            (
                "2024-03-05T10:00:00Z",
                DayMonthOrder::DayFirst,
                d(2024, 3, 5),
            ),
            ("2024/3/5", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            ("20240305", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            ("05.03.2024", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            ("03/05/2024", DayMonthOrder::MonthFirst, d(2024, 3, 5)),
            ("5/3/24", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            ("5-3-87", DayMonthOrder::DayFirst, d(1987, 3, 5)),
            ("5 March 2024", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            ("March 5, 2024", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            ("5 Mar 2024", DayMonthOrder::MonthFirst, d(2024, 3, 5)),
            ("2024年3月5日", DayMonthOrder::DayFirst, d(2024, 3, 5)),
            (
                "２０２４－０３－０５",
                DayMonthOrder::DayFirst,
                d(2024, 3, 5),
            ),
            ("05.03.2024 10:30", DayMonthOrder::DayFirst, d(2024, 3, 5)),
        ] {
            assert_eq!(normalize_date(raw, order).unwrap(), want, "{raw}");
        }
        for bad in [
            "2024-02-30",
            "31.04.2024",
            "",
            "yesterday",
            "2024-13-01",
            "99999999999",
            "1/2",
        ] {
            assert!(
                matches!(
                normalize_date(bad, DayMonthOrder::DayFirst), Err(Error::InvalidValue { what: "date", value, .. }) if value == bad),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn postcodes_in_national_layouts() {
        assert_eq!(normalize_postcode("sw1a1aa", "GB").unwrap(), "SW1A 1AA");
        assert_eq!(normalize_postcode(" SW1A  1AA ", "gb").unwrap(), "SW1A 1AA");
        assert_eq!(normalize_postcode("1234ab", "NL").unwrap(), "1234 AB");
        assert_eq!(normalize_postcode("k1a0b1", "CA").unwrap(), "K1A 0B1");
        assert_eq!(normalize_postcode("10001-1234", "US").unwrap(), "10001");
        assert_eq!(normalize_postcode("１０１１５", "DE").unwrap(), "10115");
        assert_eq!(normalize_postcode("1010", "AT").unwrap(), "1010");
        assert!(matches!(
            normalize_postcode("1011", "DE"),
            Err(Error::InvalidValue {
                what: "postcode",
                ..
            })
        ));
        assert!(matches!(
            normalize_postcode("", "GB"),
            Err(Error::InvalidValue {
                what: "postcode",
                ..
            })
        ));
        assert!(matches!(
            normalize_postcode("10115!", "DE"),
            Err(Error::InvalidValue {
                what: "postcode",
                ..
            })
        ));
        assert!(matches!(
            normalize_postcode("ABCDE", "US"),
            Err(Error::InvalidValue {
                what: "postcode",
                ..
            })
        ));
    }

    proptest::proptest! {
        #[test]
        fn ascii_fast_path_equals_the_unicode_path(raw in "[ -~]{0,40}") {
            proptest::prop_assert_eq!(fold_ascii(&raw), fold_unicode(&raw));
            proptest::prop_assert_eq!(fold_ascii(&raw), key_unicode(&raw));
        }

        #[test]
        fn name_key_fast_path_equals_normalize_name(raw in "(?:(?:Dr|Mr|Ms|[A-Za-z]{1,6})[ .,'-]{0,2}){0,5}") {
            let slow = normalize_name(&raw).map(|n| n.full_key).unwrap_or_else(|_| key(&raw));
            proptest::prop_assert_eq!(name_key(&raw), slow);
        }

        #[test]
        fn normalisers_never_panic_and_folding_is_idempotent(raw in "\\PC{0,40}", country in "[A-Za-z]{2}") {
            let folded = fold(&raw);
            proptest::prop_assert_eq!(fold(&folded), folded.clone());
            let k = key(&raw);
            proptest::prop_assert_eq!(key(&k), k);
            proptest::prop_assert!(!folded.starts_with(' ') && !folded.ends_with(' ') && !folded.contains("  "));
            let _ = normalize_name(&raw);
            let _ = normalize_email(&raw, MailboxRules::Provider);
            if let Ok(p) = normalize_phone(&raw, &country) {
                proptest::prop_assert!(p.starts_with('+') && p[1..].chars().all(|c| c.is_ascii_digit()));
                proptest::prop_assert!((7..=16).contains(&p.len()));
            }
            let _ = normalize_date(&raw, DayMonthOrder::DayFirst);
            let _ = normalize_postcode(&raw, &country);
        }
    }
}
