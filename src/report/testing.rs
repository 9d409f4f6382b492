//! Checks the chart tests share: every chart parses as SVG and counts its marks.

use super::Chart;

/// Parses the SVG, checks that the elements with class `mark` are as many as
/// [`Chart::marks`] says, and returns that count.
pub(crate) fn marks(chart: &Chart) -> usize {
    let doc = roxmltree::Document::parse(chart.svg()).expect("well-formed SVG");
    let n = doc
        .descendants()
        .filter(|e| e.attribute("class") == Some("mark"))
        .count();
    assert_eq!(n, chart.marks, "Chart::marks agrees with the SVG");
    n
}

/// [`marks`], and nothing was shortened to fit: titles, subtitles and labels are whole.
pub(crate) fn whole_marks(chart: &Chart) -> usize {
    let n = marks(chart);
    assert!(!chart.svg().contains('…'), "{}", chart.svg());
    n
}

/// An explicit "no data" chart: no marks and the words.
pub(crate) fn is_no_data(chart: &Chart) -> bool {
    whole_marks(chart) == 0 && chart.svg().contains("No data")
}

/// Four long segment names, as the segment report writes them.
pub(crate) fn segment_names() -> Vec<String> {
    [
        "0 high search_ads, high web, web-first",
        "1 high app, high social, app-first",
        "2 high direct_mail, high email, store-first",
        "3 lapsing, store-first",
    ]
    .map(String::from)
    .to_vec()
}
