//! Alert delivery channels: a plain webhook (the alert's JSON, HMAC-signed) or a WeCom, DingTalk
//! or Feishu group robot (a zh-CN message in the robot's own JSON, signed as it asks). Channels
//! are rows of `channels` (admin API, `routes/channels.rs`) plus the implicit webhook of
//! `FIELDVISIT_WEBHOOK_URL`. `delivery` runs the outbox; `route` decides who hears an alert;
//! `message` renders it; `rate` keeps each robot within its limit.

pub mod delivery;
pub mod message;
pub mod rate;
pub mod route;

use std::time::Duration;

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Settings;
use crate::db::outbox::IMPLICIT;
use message::Notice;
use rate::Limit;

/// The signature header of plain webhooks: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Fieldvisit-Signature";
/// Per request, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Wecom,
    Dingtalk,
    Feishu,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Webhook, Kind::Wecom, Kind::Dingtalk, Kind::Feishu];

    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Wecom => "wecom",
            Kind::Dingtalk => "dingtalk",
            Kind::Feishu => "feishu",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The platform's published limit per robot (none for a plain webhook).
    pub fn limits(self) -> &'static [Limit] {
        const MINUTE: Duration = Duration::from_secs(60);
        const TWENTY_A_MINUTE: [Limit; 1] = [Limit { count: 20, window: MINUTE }];
        const FEISHU: [Limit; 2] =
            [Limit { count: 5, window: Duration::from_secs(1) }, Limit { count: 100, window: MINUTE }];
        match self {
            Kind::Webhook => &[],
            Kind::Wecom | Kind::Dingtalk => &TWENTY_A_MINUTE,
            Kind::Feishu => &FEISHU,
        }
    }
}

/// One place to send to: a channel row or the implicit webhook.
#[derive(Clone)]
pub struct Target {
    pub id: String,
    pub kind: Kind,
    pub url: reqwest::Url,
    pub secret: Option<String>,
}

/// What every round needs: the HTTP client, the implicit webhook, the retry base, the link base.
pub struct Delivery {
    pub client: reqwest::Client,
    pub(super) implicit: Option<Target>,
    pub(super) retry_base_ms: i64,
    pub public_url: Option<String>,
}

impl Delivery {
    /// A bad `FIELDVISIT_WEBHOOK_URL` or extra CA is an error at start, not a retry loop later.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let implicit = match settings.webhook_url.as_deref() {
            Some(raw) => Some(Target {
                id: IMPLICIT.to_owned(),
                kind: Kind::Webhook,
                url: parse_url(raw).map_err(|e| anyhow::anyhow!("FIELDVISIT_WEBHOOK_URL {e}"))?,
                secret: settings.webhook_secret.as_ref().map(|s| s.expose().to_owned()),
            }),
            None => None,
        };
        let public_url = settings.public_url.as_deref().map(|u| u.trim_end_matches('/').to_owned());
        Ok(Self {
            client: client(settings)?,
            implicit,
            retry_base_ms: i64::try_from(settings.webhook_retry_base_ms).unwrap_or(delivery::MAX_BACKOFF_MS).max(1),
            public_url,
        })
    }

    pub fn has_implicit(&self) -> bool {
        self.implicit.is_some()
    }
}

/// A URL a channel may use: `http` or `https`, with a host. The error names no part of the URL,
/// which may carry a token.
pub fn parse_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(url)
}

/// Whether `FIELDVISIT_CHANNEL_HOSTS` (if set) lets channels send to `url`'s host.
pub fn host_allowed(settings: &Settings, url: &reqwest::Url) -> bool {
    let Some(list) = settings.channel_hosts.as_deref() else { return true };
    let host = url.host_str().unwrap_or_default();
    list.split(',').map(str::trim).any(|h| !h.is_empty() && h.eq_ignore_ascii_case(host))
}

/// The URL as admins see it: scheme, host and port, then `…` and the last 4 characters, so a
/// robot can be told apart from another without its token being shown.
pub fn mask_url(raw: &str) -> String {
    let Ok(url) = reqwest::Url::parse(raw) else { return "…".into() };
    let origin = url.origin().ascii_serialization();
    let rest = &raw[raw.len().min(origin.len())..];
    let tail: String = rest.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    if rest.chars().count() <= 8 {
        format!("{origin}/…")
    } else {
        format!("{origin}/…{tail}")
    }
}

/// The HTTP client of every channel: rustls with the system's roots, plus
/// `FIELDVISIT_CHANNEL_EXTRA_CA` (PEM, one or more certificates) if set; no redirects.
pub fn client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("fieldvisit/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &settings.channel_extra_ca {
        let pem = std::fs::read(path).with_context(|| format!("FIELDVISIT_CHANNEL_EXTRA_CA {}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("FIELDVISIT_CHANNEL_EXTRA_CA {}: not PEM certificates", path.display()))?;
        anyhow::ensure!(!certs.is_empty(), "FIELDVISIT_CHANNEL_EXTRA_CA {}: no certificate in it", path.display());
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().context("channel HTTP client")
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn webhook_signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What to POST for one alert: the body and, for DingTalk, the signed URL.
pub fn request(target: &Target, notice: &Notice, webhook_json: &[u8], now_ms: i64) -> (reqwest::Url, Vec<u8>) {
    let mut url = target.url.clone();
    let body = match target.kind {
        Kind::Webhook => return (url, webhook_json.to_vec()),
        Kind::Wecom => message::wecom_body(notice),
        Kind::Dingtalk => {
            if let Some(secret) = &target.secret {
                let sign = message::dingtalk_sign(secret, now_ms);
                url.query_pairs_mut().append_pair("timestamp", &now_ms.to_string()).append_pair("sign", &sign);
            }
            message::dingtalk_body(notice)
        }
        Kind::Feishu => {
            let ts = now_ms.div_euclid(1000);
            let signed = target.secret.as_deref().map(|s| (ts, message::feishu_sign(s, ts)));
            message::feishu_body(notice, signed)
        }
    };
    (url, serde_json::to_vec(&body).unwrap_or_default())
}

/// One POST; `Err` holds the status, the robot's error code or the error text, never the URL.
/// Robots answer HTTP 200 with `errcode`/`code` ≠ 0 when they refuse (bad signature, rate
/// limit): that is a failure too, retried like any other.
pub async fn send(client: &reqwest::Client, target: &Target, url: reqwest::Url, body: Vec<u8>) -> Result<(), String> {
    let mut req = client.post(url).header(reqwest::header::CONTENT_TYPE, "application/json");
    if let (Kind::Webhook, Some(secret)) = (target.kind, &target.secret) {
        req = req.header(SIGNATURE_HEADER, webhook_signature(secret, &body));
    }
    let res = req.body(body).send().await.map_err(|e| format!("{:#}", anyhow::Error::from(e.without_url())))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if target.kind == Kind::Webhook {
        return Ok(());
    }
    let answer: serde_json::Value =
        res.json().await.map_err(|e| format!("robot answer is not JSON: {}", e.without_url()))?;
    // WeCom and DingTalk say `errcode`, Feishu `code` (older Feishu robots `StatusCode`).
    let code =
        ["errcode", "code", "StatusCode"].iter().find_map(|k| answer.get(*k)).and_then(serde_json::Value::as_i64);
    match code {
        Some(0) => Ok(()),
        Some(code) => {
            let msg = ["errmsg", "msg", "StatusMessage"].iter().find_map(|k| answer.get(*k)?.as_str()).unwrap_or("");
            Err(format!("robot error {code}: {}", msg.chars().take(200).collect::<String>()))
        }
        None => Err("robot answer has no error code".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked() {
        assert_eq!(
            mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=73febdcb-1b38-8d30"),
            "https://qyapi.weixin.qq.com/…8d30"
        );
        assert_eq!(mask_url("http://127.0.0.1:8080/hook"), "http://127.0.0.1:8080/…");
        assert_eq!(mask_url("nonsense"), "…");
    }

    #[test]
    fn the_host_list_limits_where_channels_send() {
        let mut s = Settings::defaults();
        let url = parse_url("https://oapi.dingtalk.com/robot/send?access_token=x").expect("url");
        assert!(host_allowed(&s, &url));
        s.channel_hosts = Some("qyapi.weixin.qq.com, OAPI.dingtalk.com".into());
        assert!(host_allowed(&s, &url));
        s.channel_hosts = Some("qyapi.weixin.qq.com".into());
        assert!(!host_allowed(&s, &url));
    }

    #[test]
    fn only_http_and_https() {
        assert!(parse_url("https://example.org/hook").is_ok());
        assert!(parse_url("http://127.0.0.1:9/hook").is_ok());
        assert!(parse_url("ftp://example.org/").is_err());
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn webhook_signature_is_hex_hmac_sha256_of_the_body() {
        // The well-known HMAC-SHA256 example (key "key"), as `openssl dgst -sha256 -hmac key` prints it.
        assert_eq!(
            webhook_signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn dingtalk_signs_in_the_query() {
        let target = Target {
            id: "c".into(),
            kind: Kind::Dingtalk,
            url: parse_url("https://oapi.dingtalk.com/robot/send?access_token=abc").expect("url"),
            secret: Some("SECabc".into()),
        };
        let (url, _) = request(&target, &Notice::default(), b"", 1_700_000_000_000);
        assert_eq!(
            url.as_str(),
            "https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp=1700000000000&sign=jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM%3D"
        );
    }
}
