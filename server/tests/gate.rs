//! The forward-auth gate through Debian's nginx, on the configuration operators are given
//! (`deploy/nginx/tessera.conf` and `protected-site.conf`), in front of a small site
//! started here that answers with the `Remote-*` headers it received. TLS with a
//! throwaway certificate; `tessera.test` and `wiki.tessera.test` resolve to 127.0.0.1 in
//! the test's client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::factors::totp;
use common::nginx::start_gated;
use common::{free_port, Client};
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::service::By;
use tessera_core::ManualClock;
use tessera_server::config::{gate_domain, web_settings, ServerConfig};

const PASSWORD: &str = "gate test passphrase";

/// The protected site: says which `Remote-*` headers reached it.
async fn echo_site() -> u16 {
    let app = axum::Router::new().fallback(|headers: http::HeaderMap| async move {
        let get = |n: &str| {
            headers
                .get(n)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default()
        };
        format!(
            "user={}|email={}|name={}|role={}",
            get("remote-user"),
            get("remote-email"),
            get("remote-name"),
            get("remote-role")
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

struct Setup {
    tessera: tessera_server::Running,
    clock: Arc<ManualClock>,
    _nginx: common::nginx::Nginx,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Setup {
    fn origin(&self) -> String {
        format!("https://tessera.test:{}", self.port)
    }

    fn site(&self, path: &str) -> String {
        format!("https://wiki.tessera.test:{}{path}", self.port)
    }

    /// A browser: its own cookie jar, both names resolving to nginx.
    fn browser(&self) -> Client {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", self.origin().parse().unwrap());
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .danger_accept_invalid_certs(true)
                .resolve("tessera.test", addr)
                .resolve("wiki.tessera.test", addr)
                .default_headers(headers)
                .timeout(std::time::Duration::from_secs(60))
                .build()
                .unwrap(),
            base: self.origin(),
        }
    }

    /// A staff member; with an authenticator app when `key` is wanted.
    async fn person(&self, name: &str, with_app: bool) -> (String, Option<String>) {
        let email = format!(
            "{}@riverside.example",
            name.to_lowercase().replace(' ', ".")
        );
        self.tessera
            .tessera
            .create_user(None, &email, name, Role::Staff, Some(PASSWORD))
            .await
            .unwrap();
        if !with_app {
            return (email, None);
        }
        let c = self.browser();
        assert_eq!(c.sign_in(&email, PASSWORD).await.status, 200);
        let setup = c
            .call("begin_authenticator", json!({"password": PASSWORD}))
            .await;
        let key = setup.body["key_grouped"].as_str().unwrap().to_string();
        let added = c
            .call(
                "confirm_authenticator",
                json!({"code": totp(&key, self.now())}),
            )
            .await;
        assert_eq!(added.status, 200, "{added:?}");
        (email, Some(key))
    }

    fn now(&self) -> i64 {
        use tessera_core::Clock as _;
        self.clock.now()
    }

    /// Signs `browser` in: the password, then (with a key) an app code.
    async fn sign_in(&self, browser: &Client, email: &str, key: Option<&str>) {
        self.clock.advance(30);
        let a = browser.sign_in(email, PASSWORD).await;
        assert_eq!(a.status, 200, "{a:?}");
        if let Some(key) = key {
            let b = browser
                .call(
                    "second_step",
                    json!({"method": "authenticator", "code": totp(key, self.now())}),
                )
                .await;
            assert_eq!(b.status, 200, "{b:?}");
        }
    }
}

async fn setup() -> Option<Setup> {
    if std::env::var_os("TESSERA_TEST_POSTGRES").is_some() {
        return None; // ran in the SQLite pass; the gate does not depend on the backend
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let instance = free_port();
    let mut config = ServerConfig::loopback(dir.path(), instance, true).unwrap();
    let public = format!("https://tessera.test:{port}");
    config.web = web_settings(&public, true).unwrap();
    config.web.gate_domain = Some(gate_domain("tessera.test", &config.web).unwrap());
    config.core.public_origin = public;
    config.core.hash_cost = tessera_core::password::HashCost::danger_test_minimum();
    let clock = Arc::new(ManualClock::starting_now());
    let tessera = tessera_server::start(config, clock.clone()).await.unwrap();
    let nginx = start_gated(instance, echo_site().await, port);
    let setup = Setup {
        tessera,
        clock,
        _nginx: nginx,
        _dir: dir,
        port,
    };
    setup
        .tessera
        .tessera
        .add_gate_host(
            By::Operator,
            "Procedures wiki",
            &format!("wiki.tessera.test:{port}"),
            &Role::ALL,
            false,
        )
        .await
        .unwrap();
    Some(setup)
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", res.status()))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_gate_signs_people_in_and_passes_only_tessera_s_word_on() {
    let Some(s) = setup().await else { return };
    let (email, key) = s.person("Rae Stone", true).await;
    let browser = s.browser();

    // Not signed in: nginx sends the browser to Tessera, with the address to come back to.
    let page = s.site("/procedures?topic=hand%20hygiene");
    let res = browser.http.get(&page).send().await.unwrap();
    assert_eq!(res.status(), 302);
    let start = location(&res);
    assert!(
        start.starts_with(&format!("{}/auth/forward/start?rd=", s.origin())),
        "{start}"
    );
    // A client's own Remote-User does not get through either.
    let res = browser
        .http
        .get(&page)
        .header("remote-user", "admin@riverside.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);

    // Tessera's sign-in, then back to the page.
    let res = browser.http.get(&start).send().await.unwrap();
    assert_eq!(location(&res), "/signin");
    s.sign_in(&browser, &email, key.as_deref()).await;
    let res = browser.get("/").await;
    assert_eq!(location(&res), "/auth/forward/start?resume=1");
    let res = browser.get("/auth/forward/start?resume=1").await;
    assert_eq!(location(&res), page);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Secure-tessera_gate="))
        .expect("the gate's cookie");
    assert!(cookie.contains("Domain=tessera.test"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );

    // Through, as Tessera says; a Remote-User the client sends is replaced.
    let body = browser
        .http
        .get(&page)
        .header("remote-user", "admin@riverside.example")
        .header("remote-role", "admin")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body,
        format!("user={email}|email={email}|name=Rae Stone|role=staff")
    );

    // Signed out at Tessera: the gate's cookie is dead with the session.
    assert_eq!(browser.call("sign_out", json!({})).await.status, 200);
    let res = browser.http.get(&page).send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert!(location(&res).contains("/auth/forward/start?rd="));
    s.tessera.stop().await;
}

#[tokio::test]
async fn the_gate_refuses_with_reasons_and_never_redirects_elsewhere() {
    let Some(s) = setup().await else { return };
    // The password alone, at a site that requires two steps: refused, with the reason on
    // a Tessera page.
    let (email, _) = s.person("Sam Tate", false).await;
    let browser = s.browser();
    s.sign_in(&browser, &email, None).await;
    let page = s.site("/");
    let start = location(&browser.http.get(&page).send().await.unwrap());
    let res = browser.http.get(&start).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let text = res.text().await.unwrap();
    assert!(text.contains("needs two-step sign-in"), "{text}");
    // A site where the password is enough lets the same session in; its cookie then shows
    // the gate's own answers for both sites, as Caddy and Traefik would pass them on.
    let menu = format!("menu.tessera.test:{}", s.port);
    s.tessera
        .tessera
        .add_gate_host(By::Operator, "Canteen menu", &menu, &Role::ALL, true)
        .await
        .unwrap();
    let rd = format!("https://{menu}/today");
    let res = browser
        .get(&format!(
            "/auth/forward/start?{}",
            form_urlencoded_pairs(&[("rd", &rd)])
        ))
        .await;
    assert_eq!(location(&res), rd);
    let gate_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find_map(|c| {
            c.strip_prefix("__Secure-tessera_gate=")
                .map(|v| v.split(';').next().unwrap().to_string())
        })
        .unwrap();
    let ask = |url: String| {
        let cookie = format!("__Secure-tessera_gate={gate_cookie}");
        let gate = format!("http://127.0.0.1:{}/auth/forward", s.tessera.addr.port());
        async move {
            reqwest::Client::new()
                .get(gate)
                .header("x-original-url", url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    let open = ask(rd.clone()).await;
    assert_eq!(open.status(), 200);
    assert_eq!(open.headers()["remote-user"], email.as_str());
    let refused = ask(page.clone()).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.headers()["location"]
        .to_str()
        .unwrap()
        .contains("/auth/forward/start?rd="));
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("needs two-step sign-in"));
    // Caddy and Traefik send X-Forwarded-* instead: the same answer.
    let forwarded = reqwest::Client::new()
        .get(format!(
            "http://127.0.0.1:{}/auth/forward",
            s.tessera.addr.port()
        ))
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", &menu)
        .header("x-forwarded-uri", "/today")
        .header("cookie", format!("__Secure-tessera_gate={gate_cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 200);

    // Only registered sites on https under the gate domain are returned to.
    for rd in [
        "https://evil.example/".to_string(),
        format!("http://wiki.tessera.test:{}/", s.port),
        format!("https://other.tessera.test:{}/", s.port),
    ] {
        let url: String = form_urlencoded_pairs(&[("rd", &rd)]);
        let res = browser.get(&format!("/auth/forward/start?{url}")).await;
        assert_eq!(res.status(), 403, "{rd}");
        assert!(res.headers().get("location").is_none(), "{rd}");
    }
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM audit_log")
        .fetch_all(s.tessera.tessera.db().pool())
        .await
        .unwrap();
    assert!(kinds.iter().any(|k| k == "app_refused"), "{kinds:?}");
    s.tessera.stop().await;
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}
