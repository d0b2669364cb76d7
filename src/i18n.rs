//! The languages AiCarpool speaks (zh-CN and en) and how a request picks one: an explicit choice
//! remembered in a cookie wins, then the browser's `Accept-Language`, then English.

use serde::{Deserialize, Serialize};

/// Name of the cookie that remembers the language a person chose.
pub const LOCALE_COOKIE: &str = "aicarpool_lang";

/// A language of the UI and of mails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    ZhCn,
}

impl Locale {
    /// Every supported locale, in the order the switch shows them.
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    /// The BCP 47 tag, as used in `<html lang>` and in the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::ZhCn => "zh-CN",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::ZhCn => "简体中文",
        }
    }

    /// Reads a language tag. Every Chinese tag maps to zh-CN (the only Chinese we ship) and every
    /// English one to en; anything else is unknown.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Self::ZhCn),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// Picks the best supported language from an `Accept-Language` header, honouring q-values.
    pub fn negotiate(accept_language: &str) -> Option<Locale> {
        let mut best: Option<(u16, Locale)> = None;
        for item in accept_language.split(',') {
            let mut parts = item.split(';');
            let Some(locale) = parts.next().and_then(Self::from_tag) else {
                continue;
            };
            let quality = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(1000, parse_quality);
            if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, locale));
            }
        }
        best.map(|(_, locale)| locale)
    }

    /// Finds the remembered choice in a `Cookie` header.
    pub fn from_cookie_header(cookie_header: &str) -> Option<Locale> {
        cookie_header.split(';').find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == LOCALE_COOKIE)
                .then(|| Self::from_tag(value))
                .flatten()
        })
    }

    /// The locale for a request: the cookie, then `Accept-Language`, then English.
    pub fn for_request(cookie_header: Option<&str>, accept_language: Option<&str>) -> Locale {
        cookie_header
            .and_then(Self::from_cookie_header)
            .or_else(|| accept_language.and_then(Self::negotiate))
            .unwrap_or_default()
    }
}

/// Parses a q-value ("0.8") into thousandths, without floating point.
fn parse_quality(q: &str) -> u16 {
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    let int: u16 = match int {
        "1" => 1000,
        "0" | "" => 0,
        _ => return 0,
    };
    let frac: String = frac.chars().take(3).collect();
    let digits = frac.len();
    let frac = frac.parse::<u16>().unwrap_or(0) * 10u16.pow(3 - digits as u32);
    (int + frac).min(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_map_to_supported_locales() {
        assert_eq!(Locale::from_tag("zh-CN"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("zh_TW"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("zh-Hans-SG"), Some(Locale::ZhCn));
        assert_eq!(Locale::from_tag("EN-gb"), Some(Locale::En));
        assert_eq!(Locale::from_tag("fr"), None);
        assert_eq!(Locale::from_tag(""), None);
    }

    #[test]
    fn accept_language_honours_quality() {
        assert_eq!(
            Locale::negotiate("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Locale::ZhCn)
        );
        assert_eq!(
            Locale::negotiate("en-US,en;q=0.9,zh-CN;q=0.8"),
            Some(Locale::En)
        );
        assert_eq!(
            Locale::negotiate("fr;q=1, zh;q=0.5, en;q=0.7"),
            Some(Locale::En)
        );
        assert_eq!(Locale::negotiate("de, fr"), None);
        assert_eq!(Locale::negotiate("zh;q=0, en;q=0.1"), Some(Locale::En));
        assert_eq!(
            Locale::negotiate("zh;q=0.25,en;q=0.125"),
            Some(Locale::ZhCn)
        );
    }

    #[test]
    fn the_cookie_wins_over_the_browser() {
        let cookie = "a=b; aicarpool_lang=zh-CN; c=d";
        assert_eq!(Locale::for_request(Some(cookie), Some("en")), Locale::ZhCn);
        assert_eq!(Locale::for_request(Some("a=b"), Some("zh")), Locale::ZhCn);
        assert_eq!(
            Locale::for_request(Some("aicarpool_lang=xx"), Some("en")),
            Locale::En
        );
        assert_eq!(Locale::for_request(None, None), Locale::En);
    }

    #[test]
    fn codes_round_trip() {
        for locale in Locale::ALL {
            assert_eq!(Locale::from_tag(locale.code()), Some(locale));
        }
    }
}
