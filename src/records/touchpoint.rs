//! Touchpoints: every interaction between a customer and the business.
//!
//! A customer journey is the time-ordered set of touchpoints. Each one has a
//! [`Channel`] (where we meet the customer) and a [`TouchpointKind`] (how we
//! interact there). Both are open enumerations: unknown labels are kept as
//! `Other(String)` in lenient ingestion and rejected in strict ingestion.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::ids::CustomerId;
use super::labels::open_enum;
use super::money::Money;

open_enum! {
    /// Where a customer is met: a touchpoint's or a transaction's channel.
    Channel {
        /// Website (desktop or mobile browser).
        Web = "web" | "website" | "online" | "webshop",
        /// Native mobile app.
        App = "app" | "mobile_app",
        /// E-mail.
        Email = "email" | "e_mail" | "newsletter",
        /// SMS / text message.
        Sms = "sms" | "text",
        /// App push notification.
        Push = "push" | "push_notification",
        /// Physical store.
        Store = "store" | "shop" | "retail" | "pos",
        /// Call centre / phone.
        CallCenter = "call_center" | "call_centre" | "callcenter" | "phone",
        /// Organic social media.
        Social = "social" | "social_media",
        /// Paid search.
        SearchAds = "search_ads" | "sea" | "paid_search",
        /// Display / banner advertising.
        DisplayAds = "display_ads" | "display",
        /// Affiliate partners.
        Affiliate = "affiliate",
        /// Printed direct mail.
        DirectMail = "direct_mail" | "mail",
        /// Events, fairs, shows.
        Event = "event",
    }
}

open_enum! {
    /// How a customer interacts at a touchpoint.
    ///
    /// `Research`, `Compare`, `ReviewRead` and `Configurator` are the research
    /// activities ([`TouchpointKind::is_research`]).
    TouchpointKind {
        /// An ad or message was shown.
        Impression = "impression" | "view" | "open",
        /// A visit (session start) to a site, app or store.
        Visit = "visit" | "session",
        /// A click on an ad, link or message.
        Click = "click",
        /// A product detail page was viewed.
        ProductView = "product_view" | "pdp_view",
        /// Generic research activity.
        Research = "research",
        /// Products compared side by side.
        Compare = "compare" | "comparison",
        /// Reviews read.
        ReviewRead = "review_read" | "read_review",
        /// A product configurator was used.
        Configurator = "configurator" | "configure",
        /// An item was added to the cart.
        AddToCart = "add_to_cart" | "cart_add",
        /// An inquiry (quote request, contact form, question).
        Inquiry = "inquiry" | "enquiry" | "contact",
        /// A purchase (conversion).
        Purchase = "purchase" | "order" | "conversion",
        /// A complaint.
        Complaint = "complaint",
        /// A support contact.
        Support = "support",
        /// The customer wrote a review.
        ReviewWritten = "review_written" | "write_review",
        /// The customer referred someone.
        Referral = "referral" | "refer",
        /// The customer unsubscribed from a channel.
        Unsubscribe = "unsubscribe" | "opt_out",
    }
}

impl TouchpointKind {
    /// Whether this is a research activity (research, compare, review read, configurator).
    pub fn is_research(&self) -> bool {
        matches!(
            self,
            TouchpointKind::Research
                | TouchpointKind::Compare
                | TouchpointKind::ReviewRead
                | TouchpointKind::Configurator
        )
    }

    /// Whether this is service or after-sales contact rather than a step
    /// towards a purchase: a complaint, a support contact, a review written, a
    /// referral, an unsubscribe. Marketing did not cause these, so
    /// [`JourneyTouches::Marketing`](crate::touchpoints::journey::JourneyTouches::Marketing)
    /// leaves them out of journeys.
    pub fn is_after_sales(&self) -> bool {
        matches!(
            self,
            TouchpointKind::Complaint
                | TouchpointKind::Support
                | TouchpointKind::ReviewWritten
                | TouchpointKind::Referral
                | TouchpointKind::Unsubscribe
        )
    }

    /// Whether this signals dissatisfaction (complaint, unsubscribe).
    pub fn is_dissatisfaction(&self) -> bool {
        matches!(
            self,
            TouchpointKind::Complaint | TouchpointKind::Unsubscribe
        )
    }
}

/// Where a customer stands in their journey with the business, in order.
///
/// The stages follow the customer-journey model used in marketing practice
/// (e.g. Lemon & Verhoef 2016, "Understanding customer experience throughout
/// the customer journey"): a need arises, the customer researches, decides,
/// adopts (first purchase and onboarding), uses, and may become an advocate.
/// Touchpoint content can be made for one stage
/// ([`Touchpoint::content_stage`]), and
/// [`touchpoints::journey_stage`](crate::touchpoints::journey_stage) places each customer in one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyStage {
    /// A need or interest arises; first contacts, no research yet.
    Need,
    /// Information search: product views, comparisons, reviews.
    Research,
    /// Purchase intent: cart, inquiry, configurator.
    Decision,
    /// First purchase and onboarding.
    Adoption,
    /// Repeat use and purchases.
    Usage,
    /// Reviews written and referrals.
    Advocacy,
}

impl JourneyStage {
    /// Every stage, in journey order.
    pub const ALL: [JourneyStage; 6] = [
        JourneyStage::Need,
        JourneyStage::Research,
        JourneyStage::Decision,
        JourneyStage::Adoption,
        JourneyStage::Usage,
        JourneyStage::Advocacy,
    ];

    /// The snake_case label.
    pub fn as_str(&self) -> &'static str {
        match self {
            JourneyStage::Need => "need",
            JourneyStage::Research => "research",
            JourneyStage::Decision => "decision",
            JourneyStage::Adoption => "adoption",
            JourneyStage::Usage => "usage",
            JourneyStage::Advocacy => "advocacy",
        }
    }

    /// Position in the journey (0 = need … 5 = advocacy).
    pub fn index(&self) -> usize {
        *self as usize
    }

    /// Parses a label or a common synonym (`awareness`, `consideration`,
    /// `purchase`, `onboarding`, `retention`, `loyalty`), case-insensitively.
    pub fn parse_known(raw: &str) -> Option<Self> {
        match super::labels::normalize_label(raw).as_str() {
            "need" | "awareness" | "problem_recognition" => Some(JourneyStage::Need),
            "research" | "consideration" | "information_search" => Some(JourneyStage::Research),
            "decision" | "intent" | "evaluation" => Some(JourneyStage::Decision),
            "adoption" | "purchase" | "onboarding" => Some(JourneyStage::Adoption),
            "usage" | "use" | "retention" => Some(JourneyStage::Usage),
            "advocacy" | "loyalty" | "referral" => Some(JourneyStage::Advocacy),
            _ => None,
        }
    }
}

impl std::fmt::Display for JourneyStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One interaction event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touchpoint {
    /// The customer.
    pub customer_id: CustomerId,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Where.
    pub channel: Channel,
    /// How.
    pub kind: TouchpointKind,
    /// Campaign that caused or carried the touchpoint, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Content topic (e.g. product category or message theme), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Cost of the touchpoint to the business, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
    /// Session identifier from the source system, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The journey stage the touchpoint's content was made for, if known
    /// (e.g. an onboarding mail is made for [`JourneyStage::Adoption`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_stage: Option<JourneyStage>,
}

impl Touchpoint {
    /// A touchpoint with only the required fields.
    pub fn new(
        customer_id: CustomerId,
        timestamp: Timestamp,
        channel: Channel,
        kind: TouchpointKind,
    ) -> Self {
        Touchpoint {
            customer_id,
            timestamp,
            channel,
            kind,
            campaign: None,
            topic: None,
            cost: None,
            session_id: None,
            content_stage: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_leniently_and_strictly() {
        assert_eq!(
            "Call Centre".parse::<Channel>().unwrap(),
            Channel::CallCenter
        );
        assert_eq!(Channel::parse_known("SEARCH-ADS"), Some(Channel::SearchAds));
        assert_eq!(Channel::parse_known("carrier pigeon"), None);
        assert_eq!(
            Channel::parse_lenient(" carrier pigeon "),
            Channel::Other("carrier pigeon".into())
        );
        assert!(TouchpointKind::parse_lenient("review read").is_research());
        assert_eq!(
            JourneyStage::parse_known(" Consideration "),
            Some(JourneyStage::Research)
        );
        assert_eq!(JourneyStage::parse_known("someday"), None);
        for s in JourneyStage::ALL {
            assert_eq!(JourneyStage::parse_known(s.as_str()), Some(s));
            assert_eq!(JourneyStage::ALL[s.index()], s);
        }
    }

    #[test]
    fn labels_serialise_as_snake_case() {
        assert_eq!(
            serde_json::to_string(&Channel::DirectMail).unwrap(),
            "\"direct_mail\""
        );
        let back: Channel = serde_json::from_str("\"kiosk\"").unwrap();
        assert_eq!(back, Channel::Other("kiosk".into()));
        for c in Channel::KNOWN {
            assert_eq!(Channel::parse_known(c.as_str()).as_ref(), Some(c));
        }
        for k in TouchpointKind::KNOWN {
            assert_eq!(TouchpointKind::parse_known(k.as_str()).as_ref(), Some(k));
        }
    }
}
