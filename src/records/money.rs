//! Money: a currency code and an exact fixed-point amount.
//!
//! Amounts are stored as integers in units of 1/10,000 of the currency unit
//! (four decimal places, the most any ISO 4217 currency uses), so sums are exact
//! and `0.1 + 0.2` is `0.3`. Analytics convert to `f64` explicitly with
//! [`Money::to_f64`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of stored fractional units per currency unit.
pub const AMOUNT_SCALE: i64 = 10_000;

/// Active ISO 4217 alphabetic codes (including funds and precious-metal codes).
const ISO_4217: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR",
    "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// An ISO 4217 currency code such as `EUR`.
///
/// Parsing accepts any case and surrounding whitespace and rejects codes that
/// are not in the ISO 4217 list.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(*b"EUR");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Pound sterling.
    pub const GBP: Currency = Currency(*b"GBP");

    /// Parses a code.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for anything that is not an ISO 4217 code.
    pub fn parse(code: &str) -> Result<Self> {
        Self::parse_bytes(code.trim().as_bytes())
            .ok_or_else(|| Error::value("currency", code, "not an ISO 4217 currency code"))
    }

    /// Parses a code from bytes without allocating; `None` if unknown.
    pub(crate) fn parse_bytes(code: &[u8]) -> Option<Self> {
        match code {
            b"EUR" => return Some(Currency::EUR),
            b"USD" => return Some(Currency::USD),
            b"GBP" => return Some(Currency::GBP),
            _ => {}
        }
        let [a, b, c] = code else { return None };
        let upper = [
            a.to_ascii_uppercase(),
            b.to_ascii_uppercase(),
            c.to_ascii_uppercase(),
        ];
        // The list is sorted, so a binary search keeps this off the hot path's profile.
        let probe = std::str::from_utf8(&upper).ok()?;
        ISO_4217.binary_search(&probe).ok().map(|_| Currency(upper))
    }

    /// The three-letter code.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters from the ISO list are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl TryFrom<String> for Currency {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl std::str::FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Currency::parse(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money in one currency, exact to 1/10,000 of the currency unit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount in units of 1/10,000 of `currency` (so 12.34 EUR is `123_400`).
    pub units: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Creates an amount from fixed-point units of 1/10,000.
    pub fn from_units(units: i64, currency: Currency) -> Self {
        Money { units, currency }
    }

    /// Creates an amount from a decimal string such as `"12.34"`, `"-5"` or `"1.5e3"`; digits
    /// beyond the fourth decimal are rounded half to even.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for an empty or malformed number, NaN, infinities, thousands
    /// separators, or an amount beyond the `i64` range of 1/10,000 units.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self> {
        let units = parse_amount(amount.as_bytes())
            .map_err(|reason| Error::value("amount", amount, reason.to_string()))?;
        Ok(Money { units, currency })
    }

    /// Creates an amount from a float, rounded to the nearest 1/10,000.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN, infinities and amounts beyond ±9.2e14.
    pub fn from_f64(amount: f64, currency: Currency) -> Result<Self> {
        let units = units_from_f64(amount)
            .map_err(|reason| Error::value("amount", amount.to_string(), reason.to_string()))?;
        Ok(Money { units, currency })
    }

    /// The amount as `f64` in currency units.
    pub fn to_f64(&self) -> f64 {
        self.units as f64 / AMOUNT_SCALE as f64
    }

    /// Whether the amount is negative.
    pub fn is_negative(&self) -> bool {
        self.units < 0
    }
}

/// Formats fixed-point units as a plain decimal (`123_400` → `12.34`), for files.
pub fn format_units(units: i64) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let whole = abs / AMOUNT_SCALE as u64;
    let mut frac = abs % AMOUNT_SCALE as u64;
    if frac == 0 {
        return format!("{sign}{whole}");
    }
    let mut digits = 4;
    while frac % 10 == 0 {
        frac /= 10;
        digits -= 1;
    }
    format!("{sign}{whole}.{frac:0digits$}")
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.units < 0 { "-" } else { "" };
        let abs = self.units.unsigned_abs();
        let whole = abs / AMOUNT_SCALE as u64;
        let frac = abs % AMOUNT_SCALE as u64;
        if frac % 100 == 0 {
            write!(f, "{sign}{whole}.{:02} {}", frac / 100, self.currency)
        } else {
            write!(f, "{sign}{whole}.{frac:04} {}", self.currency)
        }
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why an amount string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AmountError {
    Empty,
    NotANumber,
    NotFinite,
    Overflow,
}

impl fmt::Display for AmountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AmountError::Empty => "empty amount",
            AmountError::NotANumber => "not a decimal number",
            AmountError::NotFinite => "NaN or infinite amount",
            AmountError::Overflow => "amount out of range (beyond ±922,337,203,685 currency units)",
        })
    }
}

/// Largest magnitude accepted, in currency units, so that sums of many amounts stay far from `i64` overflow.
const MAX_ABS_UNITS: i64 = 922_337_203_685 * AMOUNT_SCALE;

fn units_from_f64(value: f64) -> Result<i64, AmountError> {
    if !value.is_finite() {
        return Err(AmountError::NotFinite);
    }
    let scaled = (value * AMOUNT_SCALE as f64).round();
    if scaled.abs() > MAX_ABS_UNITS as f64 {
        return Err(AmountError::Overflow);
    }
    Ok(scaled as i64)
}

/// The common shape, `digits[.digits]` with at most 14 integer and 4 fraction
/// digits, in one pass; `None` sends anything else to the general parser.
fn plain_decimal_units(digits: &[u8]) -> Option<i64> {
    let dot = digits
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(digits.len());
    let (whole, frac) = (&digits[..dot], digits.get(dot + 1..).unwrap_or(&[]));
    if whole.is_empty()
        || whole.len() > 14
        || frac.len() > 4
        || (dot < digits.len() && frac.is_empty())
    {
        return None;
    }
    let mut units: i64 = 0;
    for &b in whole.iter().chain(frac) {
        if !b.is_ascii_digit() {
            return None;
        }
        units = units * 10 + i64::from(b - b'0');
    }
    const POW10: [i64; 5] = [10_000, 1_000, 100, 10, 1];
    let units = units * POW10[frac.len()];
    (units <= MAX_ABS_UNITS).then_some(units)
}

/// Parses a decimal amount exactly into 1/10,000 units.
///
/// Accepts an optional sign, digits with an optional `.` fraction, and an
/// optional exponent (`1.5e3`); digits beyond the fourth decimal are rounded
/// half to even. Rejects NaN, infinities, thousands separators and anything
/// out of range.
pub(crate) fn parse_amount(raw: &[u8]) -> Result<i64, AmountError> {
    let s = raw.trim_ascii();
    if s.is_empty() {
        return Err(AmountError::Empty);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if let Some(units) = plain_decimal_units(digits) {
        return Ok(if negative { -units } else { units });
    }
    if digits.iter().any(|b| matches!(b, b'e' | b'E')) {
        // Exponent notation is rare in exports; take the float path and round.
        let text = std::str::from_utf8(s).map_err(|_| AmountError::NotANumber)?;
        let value: f64 = text.parse().map_err(|_| AmountError::NotANumber)?;
        return units_from_f64(value);
    }
    if digits.first().is_some_and(u8::is_ascii_alphabetic)
        && [b"nan".as_slice(), b"inf", b"infinity"]
            .iter()
            .any(|w| digits.eq_ignore_ascii_case(w))
    {
        return Err(AmountError::NotFinite);
    }
    let mut units: i64 = 0;
    let mut seen_digit = false;
    let mut seen_dot = false;
    let mut frac_digits = 0u32;
    let mut round_digit: Option<u8> = None;
    let mut sticky = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                let d = i64::from(b - b'0');
                if seen_dot && frac_digits >= 4 {
                    if round_digit.is_none() {
                        round_digit = Some(b - b'0');
                    } else if d != 0 {
                        sticky = true;
                    }
                    continue;
                }
                units = units
                    .checked_mul(10)
                    .and_then(|u| u.checked_add(d))
                    .ok_or(AmountError::Overflow)?;
                if seen_dot {
                    frac_digits += 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return Err(AmountError::NotANumber),
        }
    }
    if !seen_digit {
        return Err(AmountError::NotANumber);
    }
    for _ in frac_digits..4 {
        units = units.checked_mul(10).ok_or(AmountError::Overflow)?;
    }
    if let Some(r) = round_digit {
        // Round half to even on the first dropped digit, with later digits as tie-breakers.
        if r > 5 || (r == 5 && (sticky || units % 2 == 1)) {
            units = units.checked_add(1).ok_or(AmountError::Overflow)?;
        }
    }
    if units > MAX_ABS_UNITS {
        return Err(AmountError::Overflow);
    }
    Ok(if negative { -units } else { units })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(parse_amount(b"12.34"), Ok(123_400));
        assert_eq!(parse_amount(b"-0.5"), Ok(-5_000));
        assert_eq!(parse_amount(b"+7"), Ok(70_000));
        assert_eq!(parse_amount(b" 3. "), Ok(30_000));
        assert_eq!(parse_amount(b".25"), Ok(2_500));
        assert_eq!(parse_amount(b"1.5e2"), Ok(1_500_000));
    }

    #[test]
    fn rounds_half_to_even_beyond_four_places() {
        assert_eq!(parse_amount(b"0.00005"), Ok(0));
        assert_eq!(parse_amount(b"0.00015"), Ok(2));
        assert_eq!(parse_amount(b"0.000051"), Ok(1));
        assert_eq!(parse_amount(b"0.00006"), Ok(1));
    }

    #[test]
    fn rejects_non_numbers_and_non_finite() {
        assert_eq!(parse_amount(b""), Err(AmountError::Empty));
        assert_eq!(parse_amount(b"NaN"), Err(AmountError::NotFinite));
        assert_eq!(parse_amount(b"-inf"), Err(AmountError::NotFinite));
        assert_eq!(parse_amount(b"1e999"), Err(AmountError::NotFinite));
        assert_eq!(parse_amount(b"1,000.00"), Err(AmountError::NotANumber));
        assert_eq!(parse_amount(b"1.2.3"), Err(AmountError::NotANumber));
        assert_eq!(parse_amount(b"-"), Err(AmountError::NotANumber));
        assert_eq!(
            parse_amount(b"99999999999999999999"),
            Err(AmountError::Overflow)
        );
        assert_eq!(parse_amount(b"1000000000000"), Err(AmountError::Overflow));
    }

    #[test]
    fn currency_codes_are_validated() {
        assert_eq!(Currency::parse(" eur ").unwrap(), Currency::EUR);
        assert!(matches!(
            Currency::parse("EURO"),
            Err(Error::InvalidValue {
                what: "currency",
                ..
            })
        ));
        assert!(matches!(
            Currency::parse("ABC"),
            Err(Error::InvalidValue {
                what: "currency",
                ..
            })
        ));
        assert!(
            ISO_4217.windows(2).all(|w| w[0] < w[1]),
            "list must stay sorted"
        );
    }

    #[test]
    fn units_format_round_trips() {
        for (units, text) in [
            (123_400, "12.34"),
            (-5_000, "-0.5"),
            (70_000, "7"),
            (1, "0.0001"),
            (0, "0"),
        ] {
            assert_eq!(format_units(units), text);
            assert_eq!(parse_amount(text.as_bytes()), Ok(units));
        }
    }

    #[test]
    fn money_displays_and_converts() {
        let m = Money::parse("-12.5", Currency::EUR).unwrap();
        assert_eq!(m.to_string(), "-12.50 EUR");
        assert_eq!(m.to_f64(), -12.5);
        assert!(matches!(
            Money::from_f64(f64::NAN, Currency::EUR),
            Err(Error::InvalidValue { what: "amount", .. })
        ));
    }
}
