//! Text on the canvas without a font file: width estimates, fitting, wrapping and number formats.

/// Approximate rendered width of `s` at `size` px in a proportional sans-serif
/// face: per-character widths from DejaVu Sans, the widest common default
/// (Arial and Helvetica are narrower, so labels laid out by this estimate do
/// not collide in any of them); wide (CJK) characters count as one em.
pub fn text_width(s: &str, size: f64) -> f64 {
    let ems: f64 = s
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' => 0.3,
            ' ' => 0.32,
            'f' | 't' | 'r' | 'I' | '(' | ')' | '[' | ']' | '-' => 0.41,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.95,
            c if c.is_ascii_uppercase() => 0.72,
            c if c.is_ascii_digit() => 0.64,
            c if c.is_ascii() => 0.62,
            c if (c as u32) >= 0x1100 => 1.0,
            _ => 0.64,
        })
        .sum();
    ems * size
}

/// `s` shortened with an ellipsis so that it fits in `max_width` px.
pub fn fit_text(s: &str, size: f64, max_width: f64) -> String {
    if text_width(s, size) <= max_width {
        return s.to_owned();
    }
    let mut out = String::new();
    for c in s.chars() {
        out.push(c);
        if text_width(&out, size) + text_width("…", size) > max_width {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

/// `s` broken at spaces into at most `max_lines` lines no wider than
/// `max_width` px each; a word too long for a line, or text left over after
/// the last line, is shortened with an ellipsis. Never returns an empty list.
pub fn wrap_text(s: &str, size: f64, max_width: f64, max_lines: usize) -> Vec<String> {
    let max_lines = max_lines.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    let words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    for (i, word) in words.iter().enumerate() {
        let candidate = if current.is_empty() {
            (*word).to_owned()
        } else {
            format!("{current} {word}")
        };
        if current.is_empty() || text_width(&candidate, size) <= max_width {
            current = candidate;
            continue;
        }
        if lines.len() + 1 == max_lines {
            // Last line: the rest goes in, shortened.
            let rest = words[i..].join(" ");
            lines.push(fit_text(&format!("{current} {rest}"), size, max_width));
            return lines;
        }
        lines.push(fit_text(&current, size, max_width));
        current = (*word).to_owned();
    }
    lines.push(fit_text(&current, size, max_width));
    lines
}

/// Formats a number for a label with about `digits` significant digits,
/// thousands separated by thin spaces, no exponent between 1e-4 and 1e15.
pub fn format_number(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "n/a".to_owned()
        } else if v > 0.0 {
            "∞".to_owned()
        } else {
            "−∞".to_owned()
        };
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if !(1e-4..1e15).contains(&a) {
        return format!("{v:.*e}", digits.saturating_sub(1));
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let s = format!("{a:.decimals$}");
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.trim_end_matches('0').to_owned())),
        None => (s, None),
    };
    let mut grouped = String::new();
    let len = int.len();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (len - i) % 3 == 0 && len > 4 {
            grouped.push('\u{2009}');
        }
        grouped.push(ch);
    }
    if let Some(f) = frac.filter(|f| !f.is_empty()) {
        grouped.push('.');
        grouped.push_str(&f);
    }
    if v < 0.0 {
        format!("−{grouped}")
    } else {
        grouped
    }
}

/// Formats a share in [0, 1] as a percentage with one decimal.
pub fn format_percent(share: f64) -> String {
    if share.is_finite() {
        let s = format!("{:.1}%", 100.0 * share);
        s.replace('-', "−")
    } else {
        "n/a".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_naturally() {
        assert_eq!(format_number(1234567.0, 3), "1\u{2009}234\u{2009}567");
        assert_eq!(format_number(1234.0, 3), "1234");
        assert_eq!(format_number(0.12345, 3), "0.123");
        assert_eq!(format_number(-2.5, 3), "−2.5");
        assert_eq!(format_number(f64::NAN, 3), "n/a");
        assert_eq!(format_percent(0.1234), "12.3%");
    }

    #[test]
    fn long_labels_are_shortened_to_fit() {
        let s = fit_text("a very long segment name indeed", 12.0, 60.0);
        assert!(s.ends_with('…'));
        assert!(text_width(&s, 12.0) <= 60.0 + 1e-9);
        assert_eq!(fit_text("short", 12.0, 100.0), "short");
    }

    #[test]
    fn wrapped_labels_fit_their_width_and_keep_every_word() {
        let s = "2 high direct_mail, high email, store-first";
        let lines = wrap_text(s, 11.0, 104.0, 3);
        assert!(lines.len() <= 3, "{lines:?}");
        for l in &lines {
            assert!(text_width(l, 11.0) <= 104.0 + 1e-9, "{l}");
        }
        assert_eq!(lines.join(" "), s);
        assert_eq!(wrap_text("short", 11.0, 100.0, 2), vec!["short".to_owned()]);
        let cut = wrap_text("one two three four five six seven", 12.0, 40.0, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…'));
        assert_eq!(wrap_text("", 12.0, 40.0, 2), vec![String::new()]);
    }
}
