//! Colour scales for heat maps: viridis and a diverging blue–red, with readable text on each fill.

use super::INK;

/// An RGB colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub f64, pub f64, pub f64);

impl Rgb {
    fn hex(self) -> String {
        let c = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        format!("#{:02x}{:02x}{:02x}", c(self.0), c(self.1), c(self.2))
    }

    fn parse(hex: &str) -> Rgb {
        let h = hex.trim_start_matches('#');
        let v = |i: usize| {
            h.get(i..i + 2)
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .map_or(0.0, |b| f64::from(b) / 255.0)
        };
        Rgb(v(0), v(2), v(4))
    }

    /// Relative luminance (WCAG 2).
    fn luminance(self) -> f64 {
        let lin = |c: f64| {
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }
}

/// Viridis (perceptually uniform, colour-blind safe), sampled at 9 stops.
const VIRIDIS: [&str; 9] = [
    "#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
    "#fde725",
];

/// ColorBrewer's RdBu (colour-blind safe diverging), blue for negative.
const DIVERGING: [&str; 9] = [
    "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
    "#b2182b",
];

fn interpolate(stops: &[&str], t: f64) -> Rgb {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let pos = t * (stops.len() - 1) as f64;
    let i = (pos.floor() as usize).min(stops.len() - 2);
    let f = pos - i as f64;
    let a = Rgb::parse(stops[i]);
    let b = Rgb::parse(stops[i + 1]);
    Rgb(
        a.0 + f * (b.0 - a.0),
        a.1 + f * (b.1 - a.1),
        a.2 + f * (b.2 - a.2),
    )
}

/// How a heat map maps values to colours.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ColourScale {
    /// Viridis from the minimum (dark) to the maximum (light).
    Sequential,
    /// Blue below zero, white at zero, red above, symmetric in the largest |value|.
    Diverging,
}

/// Fill colour for `t` in [0, 1] (sequential) or [-1, 1] (diverging), and a
/// readable text colour on it.
pub(crate) fn scale_colour(scale: ColourScale, t: f64) -> (String, &'static str) {
    let rgb = match scale {
        ColourScale::Sequential => interpolate(&VIRIDIS, t),
        ColourScale::Diverging => interpolate(&DIVERGING, (t + 1.0) / 2.0),
    };
    let text = if rgb.luminance() > 0.35 {
        INK
    } else {
        "#ffffff"
    };
    (rgb.hex(), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_dark_fills_is_white() {
        assert_eq!(scale_colour(ColourScale::Sequential, 0.0).1, "#ffffff");
        assert_eq!(scale_colour(ColourScale::Sequential, 1.0).1, INK);
        assert_eq!(scale_colour(ColourScale::Diverging, 0.0).0, "#f7f7f7");
    }
}
