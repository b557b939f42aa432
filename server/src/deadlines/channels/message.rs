//! What a group chat reads: an alert as zh-CN text, and each robot's request body and signature.
//! Pure, so the exact JSON is unit-tested here and end to end in `tests/tests/channels.rs`.
//!
//! Formats (each platform's custom group robot, as documented by it):
//! - WeCom (企业微信群机器人): `{"msgtype":"markdown","markdown":{"content":…}}`, no signature
//!   (the URL's `key` is the credential); answers `{"errcode":0,…}`.
//! - DingTalk (钉钉自定义机器人): `{"msgtype":"markdown","markdown":{"title":…,"text":…}}`; with
//!   加签, `timestamp` (ms) and `sign` = base64(HMAC-SHA256(key = secret, "timestamp\nsecret"))
//!   are appended to the URL's query; answers `{"errcode":0,…}`.
//! - Feishu (飞书自定义机器人): `{"timestamp":"<s>","sign":…,"msg_type":"text","content":{"text":…}}`
//!   with sign = base64(HMAC-SHA256(key = "timestamp\nsecret", empty message)); answers `{"code":0,…}`.

use base64::Engine as _;
use chrono::TimeZone as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use fieldvisit_sync_protocol::time::Millis;

/// An alert with what a reader needs around it, ready to render.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    /// The alert type (`overdue`, …; `day_end` and types added later render generically).
    pub kind: String,
    pub stage: String,
    pub level: i32,
    pub due_at: Millis,
    pub fired_at: Millis,
    pub ticket_id: String,
    /// The household's address; empty when the alert is not about one ticket.
    pub address: String,
    /// The name of the ticket's area (grid, community, …).
    pub area_name: String,
    /// Where the policy's day is counted (`Asia/Shanghai` by default).
    pub timezone: String,
    /// `FIELDVISIT_PUBLIC_URL` without a trailing '/', if set: the dashboard link's base.
    pub public_url: Option<String>,
}

pub fn stage_label(stage: &str) -> &'static str {
    match stage {
        "classify" => "分类",
        "dispatch" => "派单",
        "on_site" => "到场",
        "close" => "办结",
        _ => "处置",
    }
}

/// The alert type as a chat reads it; a type this build does not know still reads sensibly.
pub fn kind_label(kind: &str, level: i32) -> String {
    match kind {
        "due_soon" => "即将超时".into(),
        "overdue" => "已超时".into(),
        "escalated" => format!("超时升级（第{level}级）"),
        "retracted" => "超时撤销".into(),
        "day_end" => "日清日结提醒".into(),
        "test" => "通道测试".into(),
        _ => "工单提醒".into(),
    }
}

/// "1小时5分钟", "12分钟", "不到1分钟".
pub fn duration_zh(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let mut s = String::new();
    if d > 0 {
        s.push_str(&format!("{d}天"));
    }
    if h > 0 {
        s.push_str(&format!("{h}小时"));
    }
    if m > 0 || s.is_empty() {
        s.push_str(&if minutes == 0 { "不到1分钟".to_owned() } else { format!("{m}分钟") });
    }
    s
}

impl Notice {
    fn local(&self, at: Millis) -> String {
        let tz: chrono_tz::Tz = self.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
        match tz.timestamp_millis_opt(at) {
            chrono::LocalResult::Single(t) => t.format("%m-%d %H:%M").to_string(),
            _ => String::new(),
        }
    }

    /// The headline: type, stage and how late.
    pub fn title(&self) -> String {
        let kind = kind_label(&self.kind, self.level);
        let stage = stage_label(&self.stage);
        let late = self.fired_at - self.due_at;
        match self.kind.as_str() {
            "due_soon" => format!("【{kind}】{stage}环节还剩{}", duration_zh(-late)),
            "overdue" | "escalated" => format!("【{kind}】{stage}环节已超时{}", duration_zh(late)),
            "retracted" => format!("【{kind}】{stage}环节按时完成，此前的超时提醒作废"),
            "test" => format!("【{kind}】这是一条测试消息"),
            _ if self.ticket_id.is_empty() => format!("【{kind}】"),
            _ => format!("【{kind}】{stage}环节"),
        }
    }

    /// The lines under the headline, as (label, value); empty values are left out.
    fn lines(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("地址", self.address.clone()), ("片区", self.area_name.clone())];
        if self.due_at > 0 {
            out.push(("时限", self.local(self.due_at)));
        }
        out.retain(|(_, v)| !v.is_empty());
        out
    }

    pub fn link(&self) -> Option<String> {
        let base = self.public_url.as_deref()?;
        (!self.ticket_id.is_empty()).then(|| format!("{base}/ui/#/ticket/{}", self.ticket_id))
    }

    /// Plain text (Feishu's `text`): headline, one line per field, the link.
    pub fn text(&self) -> String {
        let mut s = self.title();
        for (k, v) in self.lines() {
            s.push_str(&format!("\n{k}：{v}"));
        }
        if let Some(link) = self.link() {
            s.push_str(&format!("\n查看工单：{link}"));
        }
        s
    }

    /// Markdown as WeCom and DingTalk render it: bold headline, quoted fields, the link.
    pub fn markdown(&self) -> String {
        let mut s = format!("**{}**", self.title());
        for (k, v) in self.lines() {
            s.push_str(&format!("\n> {k}：{}", escape_md(&v)));
        }
        if let Some(link) = self.link() {
            s.push_str(&format!("\n\n[查看工单]({link})"));
        }
        s
    }
}

/// Markdown characters in data (an address) are shown, not interpreted.
fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '[' | ']' | '(' | ')' | '`' | '#' | '>' | '<') {
            out.push('\\');
        }
        out.push(if c == '\n' { ' ' } else { c });
    }
    out
}

pub fn wecom_body(n: &Notice) -> Value {
    json!({"msgtype": "markdown", "markdown": {"content": n.markdown()}})
}

pub fn dingtalk_body(n: &Notice) -> Value {
    json!({"msgtype": "markdown", "markdown": {"title": n.title(), "text": n.markdown()}})
}

/// Feishu's body; `signed` is (timestamp in seconds, sign) when the robot has a secret.
pub fn feishu_body(n: &Notice, signed: Option<(i64, String)>) -> Value {
    let mut body = json!({"msg_type": "text", "content": {"text": n.text()}});
    if let Some((ts, sign)) = signed {
        body["timestamp"] = json!(ts.to_string());
        body["sign"] = json!(sign);
    }
    body
}

fn hmac_b64(key: &[u8], msg: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's `sign` for `timestamp_ms`, before URL encoding (the query builder encodes it).
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    hmac_b64(secret.as_bytes(), format!("{timestamp_ms}\n{secret}").as_bytes())
}

/// Feishu's `sign` for `timestamp_s`: the string is the key, the message is empty.
pub fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    hmac_b64(format!("{timestamp_s}\n{secret}").as_bytes(), b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            kind: "overdue".into(),
            stage: "on_site".into(),
            level: 0,
            due_at: 1_764_900_000_000,
            fired_at: 1_764_900_000_000 + 65 * 60_000,
            ticket_id: "t-1".into(),
            address: "西城区1号*".into(),
            area_name: "一网格".into(),
            timezone: "Asia/Shanghai".into(),
            public_url: Some("https://desk.example".into()),
        }
    }

    #[test]
    fn durations_read_in_chinese() {
        assert_eq!(duration_zh(65 * 60_000), "1小时5分钟");
        assert_eq!(duration_zh(12 * 60_000), "12分钟");
        assert_eq!(duration_zh(30_000), "不到1分钟");
        assert_eq!(duration_zh(26 * 3_600_000), "1天2小时");
    }

    #[test]
    fn robots_get_their_own_json() {
        let n = notice();
        // 1764900000000 ms is 2025-12-05 02:00 UTC, 10:00 in Shanghai.
        let md = "**【已超时】到场环节已超时1小时5分钟**\n> 地址：西城区1号\\*\n> 片区：一网格\n> 时限：12-05 10:00\n\n[查看工单](https://desk.example/ui/#/ticket/t-1)";
        assert_eq!(wecom_body(&n), json!({"msgtype": "markdown", "markdown": {"content": md}}));
        assert_eq!(
            dingtalk_body(&n),
            json!({"msgtype": "markdown", "markdown": {"title": "【已超时】到场环节已超时1小时5分钟", "text": md}})
        );
        let text = "【已超时】到场环节已超时1小时5分钟\n地址：西城区1号*\n片区：一网格\n时限：12-05 10:00\n查看工单：https://desk.example/ui/#/ticket/t-1";
        assert_eq!(
            feishu_body(&n, Some((1, "s".into()))),
            json!({"timestamp": "1", "sign": "s", "msg_type": "text", "content": {"text": text}})
        );
    }

    #[test]
    fn unknown_types_still_read_as_a_reminder() {
        let n = Notice { kind: "day_end".into(), ticket_id: String::new(), due_at: 0, ..notice() };
        assert_eq!(n.text(), "【日清日结提醒】\n地址：西城区1号*\n片区：一网格");
        let n = Notice { kind: "something_new".into(), ..notice() };
        assert!(n.title().starts_with("【工单提醒】到场环节"), "{}", n.title());
    }

    #[test]
    fn signatures_match_the_platforms_examples() {
        // Computed independently, as the platforms' Python examples do (hmac.new(key, msg, sha256)).
        assert_eq!(dingtalk_sign("SECabc", 1_700_000_000_000), "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM=");
        assert_eq!(feishu_sign("abc", 1_700_000_000), "VIS10b0EBvzzSdFnuk4tznEmK5wHaruvf/WnViv2yR4=");
        assert_ne!(feishu_sign("abc", 1_700_000_000), feishu_sign("abc", 1_700_000_001));
    }
}
