//! JSON numbers: how both JSON readers (messages and policy files) turn a
//! number token into a value, and how the policy compares two values
//! (`docs/POLICY.md`, section 8, "Numbers").
//!
//! A number written without fraction or exponent whose value is from
//! -2^63 to 2^64 - 1 is an **integer**, held exactly (`-0` is the integer
//! 0). Every other number is the IEEE 754 double nearest to its decimal
//! value (ties to even), held as `f64`; a number whose nearest double is
//! infinite (its magnitude is too large) is invalid, one too small for a
//! double is zero. Comparisons are exact on those values: integers as
//! integers, doubles as doubles, and an integer against a double without
//! rounding the integer.

use serde_json::Number;
use std::cmp::Ordering;

/// The value of a number token that is already known to follow the JSON
/// grammar; `integer` says it has neither fraction nor exponent. `None`
/// when the number is out of range (its nearest double is infinite).
#[inline]
pub(crate) fn from_token(token: &[u8], integer: bool) -> Option<Number> {
    if integer {
        let (negative, digits) = match token.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, token),
        };
        if let Some(magnitude) = digits_u64(digits) {
            if !negative {
                return Some(Number::from(magnitude));
            }
            if magnitude == 0 {
                // `-0` is the integer 0 (serde_json would read -0.0).
                return Some(Number::from(0u64));
            }
            if let Some(n) = 0i64.checked_sub_unsigned(magnitude) {
                return Some(Number::from(n));
            }
        }
    }
    // serde_json reads the rest, correctly rounded (its `float_roundtrip`
    // feature). `str::parse` caps the exponent it reads at about 65,536,
    // so with as many digits it is wrong (`1`, 70,000 zeros, `e-700000`
    // gave 1.0).
    let f: f64 = serde_json::from_slice(token).ok()?;
    Number::from_f64(f)
}

/// The value of ASCII decimal digits, or `None` when there are none or it
/// overflows a `u64`.
#[inline]
pub(crate) fn digits_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?
            .checked_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// An integer's exact value, or `None` for a double.
fn integer(n: &Number) -> Option<i128> {
    n.as_u64()
        .map(i128::from)
        .or_else(|| n.as_i64().map(i128::from))
}

/// Compares two numbers exactly (`None` only if one is NaN, which no
/// reader produces). `-0.0` equals `0.0` and the integer `0`; the integer
/// 9007199254740993 is greater than the double 9007199254740992.0, though
/// that double is the integer's nearest one.
pub(crate) fn cmp(a: &Number, b: &Number) -> Option<Ordering> {
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => cmp_integer_double(x, b.as_f64()?),
        (None, Some(y)) => cmp_integer_double(y, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// Whether two numbers have the same value (see [`cmp`]).
pub(crate) fn eq(a: &Number, b: &Number) -> bool {
    cmp(a, b) == Some(Ordering::Equal)
}

/// 2^64 as a double (exact).
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// Compares an integer (from -2^63 to 2^64 - 1) with a double exactly,
/// without rounding the integer to a double: a double of magnitude 2^64 or
/// more lies beyond every such integer; any other double splits exactly
/// into a whole part (an integer below 2^64 in magnitude, which `i128`
/// holds) and a fraction, compared in that order.
fn cmp_integer_double(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= TWO_POW_64 {
        return Some(Ordering::Less);
    }
    if f <= -TWO_POW_64 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // Exact: `whole` is integral and below 2^64 in magnitude.
    let whole_int = whole as i128;
    match i.cmp(&whole_int) {
        // Exact too: a double minus its whole part is representable.
        Ordering::Equal => 0.0f64.partial_cmp(&(f - whole)),
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(token: &str) -> Number {
        let integer = !token.contains(['.', 'e', 'E']);
        from_token(token.as_bytes(), integer).unwrap()
    }

    #[test]
    fn tokens_read_as_documented() {
        assert_eq!(n("0"), Number::from(0u64));
        assert_eq!(n("-0"), Number::from(0u64));
        assert!(!n("-0").is_f64());
        assert!(n("-0.0").is_f64());
        assert!(n("1.0").is_f64());
        assert!(n("1e0").is_f64());
        assert_eq!(n("18446744073709551615"), Number::from(u64::MAX));
        assert_eq!(n("-9223372036854775808"), Number::from(i64::MIN));
        // Past the integer range: the nearest double.
        assert_eq!(n("18446744073709551616").as_f64(), Some(TWO_POW_64));
        assert!(n("18446744073709551616").is_f64());
        assert!(n("-9223372036854775809").is_f64());
        assert_eq!(
            n("-9223372036854775809").as_f64(),
            Some(-9223372036854775808.0)
        );
        // Overflow is invalid, underflow is zero (of the token's sign).
        assert_eq!(from_token(b"1e400", false), None);
        assert_eq!(from_token(b"-1e400", false), None);
        assert_eq!(
            from_token(&[b"1".as_slice(), &[b'0'; 400]].concat(), true),
            None
        );
        assert_eq!(n("1e-400").as_f64(), Some(0.0));
        assert!(n("-1e-400")
            .as_f64()
            .is_some_and(|f| f == 0.0 && f.is_sign_negative()));
        assert_eq!(n("1.7976931348623157e308").as_f64(), Some(f64::MAX));
        assert_eq!(digits_u64(b""), None);
    }

    #[test]
    fn comparisons_are_exact() {
        use Ordering::*;
        let c = |a: &str, b: &str| cmp(&n(a), &n(b));
        for (a, b, want) in [
            ("0", "-0", Equal),
            ("0", "-0.0", Equal),
            ("-0", "0.0", Equal),
            ("-0.0", "0.0", Equal),
            ("1", "1.0", Equal),
            ("1", "1e0", Equal),
            ("9007199254740993", "9007199254740992.0", Greater),
            ("9007199254740992", "9007199254740992.0", Equal),
            ("9007199254740993", "9007199254740993.0", Greater),
            ("18446744073709551615", "18446744073709551616", Less),
            ("18446744073709551615", "1.8446744073709552e19", Less),
            ("-9223372036854775808", "-9223372036854775809", Equal),
            ("-9223372036854775808", "-9223372036854777856.0", Greater),
            ("-9223372036854775808", "-1e300", Greater),
            ("18446744073709551615", "1e300", Less),
            ("2", "2.5", Less),
            ("3", "2.5", Greater),
            ("-2", "-2.5", Greater),
            ("-3", "-2.5", Less),
            ("-1", "-0.5", Less),
            ("0", "0.5", Less),
            ("0", "-0.5", Greater),
            ("0", "5e-324", Less),
            ("0", "-5e-324", Greater),
            ("0.1", "0.1", Equal),
            ("0.1", "0.2", Less),
            ("u64", "i64", Greater),
        ] {
            let got = match (a, b) {
                ("u64", "i64") => cmp(&Number::from(u64::MAX), &Number::from(i64::MIN)),
                _ => c(a, b),
            };
            assert_eq!(got, Some(want), "{a} vs {b}");
            if a != "u64" {
                assert_eq!(c(b, a), Some(want.reverse()), "{b} vs {a}");
            }
        }
    }

    /// The integer-against-double compare agrees with a slow, obviously
    /// exact one: both written out as exact decimals and compared as such.
    #[test]
    fn integer_against_double_agrees_with_exact_decimals() {
        fn decimal_cmp(i: i128, f: f64) -> Ordering {
            // Every double has a finite decimal expansion; 1100 places hold
            // any of them exactly.
            let fs = format!("{f:.1100}");
            let is = format!("{i}.{}", "0".repeat(1100));
            let key = |s: &str| -> (bool, String, String) {
                let (neg, digits) = match s.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, s),
                };
                let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
                let whole = whole.trim_start_matches('0').to_owned();
                let zero = whole.is_empty() && frac.bytes().all(|b| b == b'0');
                (neg && !zero, whole, frac.to_owned())
            };
            let (an, aw, af) = key(&is);
            let (bn, bw, bf) = key(&fs);
            let magnitude = aw.len().cmp(&bw.len()).then(aw.cmp(&bw)).then(af.cmp(&bf));
            match (an, bn) {
                (false, false) => magnitude,
                (true, true) => magnitude.reverse(),
                (false, true) => Ordering::Greater,
                (true, false) => Ordering::Less,
            }
        }
        let mut next32 = crate::test_rng::xorshift(53);
        let mut next = move || (u64::from(next32()) << 32) | u64::from(next32());
        let edges: [i128; 10] = [
            0,
            1,
            -1,
            1 << 53,
            (1 << 53) + 1,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(u64::MAX),
            i128::from(u64::MAX) - 1,
            -(1 << 53) - 1,
        ];
        for _ in 0..20_000 {
            let x = next();
            let i = match x % 4 {
                0 => edges[(x >> 8) as usize % edges.len()] + i128::from((x >> 32) % 5) - 2,
                1 => i128::from(x as i64),
                2 => i128::from(x >> 11),
                _ => i128::from((x >> 40) as i64 - (1 << 23)),
            }
            .clamp(i128::from(i64::MIN), i128::from(u64::MAX));
            let y = next();
            let f = match y % 4 {
                // Near the integer: its own rounding and the doubles
                // around it.
                0 => {
                    let g = i as f64;
                    let bits = g.to_bits();
                    f64::from_bits(bits.wrapping_add(y >> 62).wrapping_sub(1))
                }
                1 => (i as f64) + ((y >> 20) % 5) as f64 * 0.25 - 0.5,
                2 => f64::from_bits(y),
                _ => ((y >> 11) as f64) * if y & 1 == 0 { 1.0 } else { -1.0 },
            };
            if !f.is_finite() {
                continue;
            }
            assert_eq!(
                cmp_integer_double(i, f),
                Some(decimal_cmp(i, f)),
                "{i} vs {f:e}"
            );
        }
    }
}
