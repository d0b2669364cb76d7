//! The strings of budget warnings on the limits (the thresholds crossed in the current window,
//! each one mailed) and the names of the time zones the group settings offer; one
//! [`AlertTexts`] value per locale, nested in [`super::Texts`] as `alerts`.

/// Budget warnings and time zone names.
pub struct AlertTexts {
    /// The thresholds already mailed this window (`80%, 100%`).
    pub warned: fn(&str) -> String,
    /// The cap is reached.
    pub reached: &'static str,
    /// What the notice is, for screen readers.
    pub notice_label: &'static str,
    /// Zone (IANA name) -> what people call it.
    pub zones: &'static [(&'static str, &'static str)],
}

impl AlertTexts {
    /// The notice of a limit's crossed thresholds; `None` when none was crossed.
    pub fn notice(&self, crossed: &[u8]) -> Option<String> {
        let list = crossed
            .iter()
            .map(|p| format!("{p}%"))
            .collect::<Vec<_>>()
            .join(", ");
        match crossed.iter().max() {
            None => None,
            Some(p) if *p >= 100 => Some(format!("{} {}", self.reached, (self.warned)(&list))),
            Some(_) => Some((self.warned)(&list)),
        }
    }

    /// A zone as a select option: `New York — US Eastern (America/New_York)`; the bare name
    /// for zones without a label (`UTC+05:30`).
    pub fn zone_label(&self, zone: &str) -> String {
        match self.zones.iter().find(|(name, _)| *name == zone) {
            Some((_, label)) => format!("{label} ({zone})"),
            None => zone.to_owned(),
        }
    }
}

pub const EN: AlertTexts = AlertTexts {
    warned: |list| format!("Warning mailed this window at {list} of the cap."),
    reached: "Cap reached: requests past it are refused until the window resets.",
    notice_label: "Budget warning",
    zones: &[
        (
            "Pacific/Auckland",
            "Auckland — New Zealand, daylight saving",
        ),
        (
            "Australia/Sydney",
            "Sydney — Australian Eastern, daylight saving",
        ),
        ("Asia/Tokyo", "Tokyo — Japan"),
        ("Asia/Seoul", "Seoul — Korea"),
        ("Asia/Shanghai", "Beijing, Shanghai — China"),
        ("Asia/Hong_Kong", "Hong Kong"),
        ("Asia/Taipei", "Taipei"),
        ("Asia/Singapore", "Singapore"),
        ("Asia/Kolkata", "India"),
        ("Asia/Dubai", "Dubai — Gulf"),
        ("Europe/Moscow", "Moscow"),
        (
            "Europe/Berlin",
            "Berlin — Central European, daylight saving",
        ),
        ("Europe/Paris", "Paris — Central European, daylight saving"),
        ("Europe/London", "London — UK, daylight saving"),
        ("UTC", "Coordinated Universal Time"),
        ("America/Sao_Paulo", "São Paulo — Brazil"),
        ("America/New_York", "New York — US Eastern, daylight saving"),
        ("America/Chicago", "Chicago — US Central, daylight saving"),
        ("America/Denver", "Denver — US Mountain, daylight saving"),
        (
            "America/Los_Angeles",
            "Los Angeles — US Pacific, daylight saving",
        ),
    ],
};

pub const ZH_CN: AlertTexts = AlertTexts {
    warned: |list| format!("本窗口已在用到上限的 {list} 时发送预警邮件。"),
    reached: "已用完：超出上限的请求将被拒绝，直到窗口重置。",
    notice_label: "预算预警",
    zones: &[
        ("Pacific/Auckland", "奥克兰 — 新西兰，夏令时"),
        ("Australia/Sydney", "悉尼 — 澳大利亚东部，夏令时"),
        ("Asia/Tokyo", "东京 — 日本"),
        ("Asia/Seoul", "首尔 — 韩国"),
        ("Asia/Shanghai", "北京、上海 — 中国"),
        ("Asia/Hong_Kong", "香港"),
        ("Asia/Taipei", "台北"),
        ("Asia/Singapore", "新加坡"),
        ("Asia/Kolkata", "印度"),
        ("Asia/Dubai", "迪拜 — 海湾"),
        ("Europe/Moscow", "莫斯科"),
        ("Europe/Berlin", "柏林 — 中欧，夏令时"),
        ("Europe/Paris", "巴黎 — 中欧，夏令时"),
        ("Europe/London", "伦敦 — 英国，夏令时"),
        ("UTC", "协调世界时"),
        ("America/Sao_Paulo", "圣保罗 — 巴西"),
        ("America/New_York", "纽约 — 美国东部，夏令时"),
        ("America/Chicago", "芝加哥 — 美国中部，夏令时"),
        ("America/Denver", "丹佛 — 美国山地，夏令时"),
        ("America/Los_Angeles", "洛杉矶 — 美国太平洋，夏令时"),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_zone_has_a_name_in_both_languages() {
        for zone in aicarpool::tz::COMMON {
            for texts in [&EN, &ZH_CN] {
                assert!(texts.zones.iter().any(|(n, _)| n == zone), "{zone}");
            }
        }
        assert_eq!(EN.notice(&[]), None);
        assert_eq!(
            EN.notice(&[80]).as_deref(),
            Some("Warning mailed this window at 80% of the cap.")
        );
        assert!(ZH_CN.notice(&[80, 100]).unwrap().starts_with("已用完"));
        assert_eq!(
            EN.zone_label("America/New_York"),
            "New York — US Eastern, daylight saving (America/New_York)"
        );
        assert_eq!(ZH_CN.zone_label("UTC+05:30"), "UTC+05:30");
    }
}
