//! Open enumerations with an `Other(String)` escape, parsed leniently or strictly.

/// Normalises a label for matching: trimmed, lower-case, spaces and hyphens as `_`.
pub(crate) fn normalize_label(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' | '/' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Defines a `#[non_exhaustive]` enum of known labels plus `Other(String)`,
/// serialised as snake_case strings, with lenient (`FromStr`) and strict
/// (`parse_known`) parsing.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $label:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value outside the known list, kept verbatim (trimmed).
            Other(String),
        }

        impl $name {
            /// Every known (non-`Other`) value, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The canonical snake_case label (the verbatim text for `Other`).
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $label, )+
                    $name::Other(s) => s.as_str(),
                }
            }

            /// Strict parsing: the known value for a label or alias
            /// (case-insensitive; spaces and hyphens count as `_`), `None` otherwise.
            pub fn parse_known(raw: &str) -> Option<Self> {
                // Canonical labels are the common case; match them without allocating.
                match raw {
                    $( $label => return Some($name::$variant), )+
                    _ => {}
                }
                let key = $crate::records::labels::normalize_label(raw);
                match key.as_str() {
                    $( $label $(| $alias)* => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// Lenient parsing: a known value, or `Other` with the trimmed text.
            pub fn parse_lenient(raw: &str) -> Self {
                Self::parse_known(raw).unwrap_or_else(|| $name::Other(raw.trim().to_owned()))
            }

            /// Whether this is a known value rather than `Other`.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse_lenient(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $name::Other(s) => write!(f, "{}::Other({:?})", stringify!($name), s),
                    known => write!(f, "{}::{}", stringify!($name), known.as_str()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::parse_lenient(&s))
            }
        }
    };
}

pub(crate) use open_enum;
