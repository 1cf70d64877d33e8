//! The app's side of OpenID Connect for the tests: a relying party built with the
//! `openidconnect` crate (which nobody here wrote) from Tessera's discovery document, and
//! what a browser does between the app and Tessera.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, Scope,
};
use serde_json::json;
use tessera_core::accounts::Role;
use tessera_core::oidc::clients::NewClient;
use tessera_core::oidc::keys::Alg;
use tessera_core::service::By;

use super::console::{Person, PASSWORD};
use super::factors::totp;
use super::{Client, TestApp};

pub const CALLBACK: &str = "https://wiki.riverside.example/callback";

pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An app as the admin registers it: two steps required, every role, refresh tokens.
pub fn wiki_app() -> NewClient {
    NewClient {
        name: "Procedures wiki".into(),
        confidential: true,
        redirect_uris: vec![CALLBACK.into()],
        post_logout_uris: vec![],
        roles: Role::ALL.to_vec(),
        password_enough: false,
        refresh_tokens: true,
        access_token_secs: 300,
        id_token_alg: Alg::Rs256,
        backchannel_logout_uri: None,
    }
}

/// The app's side: its registration, and the `openidconnect` client built from discovery.
pub struct App {
    pub rp: Rp,
    pub http: reqwest::Client,
    pub client_id: String,
    pub secret: Option<String>,
}

pub async fn register(app: &TestApp, new: NewClient) -> App {
    let alg = new.id_token_alg;
    let registered = app
        .running()
        .tessera
        .register_app(By::Operator, new)
        .await
        .unwrap();
    discover(app, registered.client_id, registered.client_secret, alg).await
}

/// The app reads discovery (and the JWKS) afresh.
pub async fn discover(app: &TestApp, client_id: String, secret: Option<String>, alg: Alg) -> App {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.origin()).unwrap(), &http)
            .await
            .expect("discovery and the JWKS are accepted by the relying party");
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let rp = if alg == Alg::Es256 {
        rp
    } else {
        rp.set_auth_type(AuthType::BasicAuth)
    };
    App {
        rp,
        http,
        client_id,
        secret,
    }
}

/// One authorization request: what the browser is sent to, and what the app keeps.
pub struct Started {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

impl App {
    pub fn start(&self, extra: &[(&str, &str)]) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .rp
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        let (url, state, nonce) = request.url();
        Started {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        }
    }

    pub async fn exchange(
        &self,
        code: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<openidconnect::core::CoreTokenResponse, String> {
        self.rp
            .exchange_code(AuthorizationCode::new(code.into()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    pub async fn userinfo(&self, token: &AccessToken) -> Result<CoreUserInfoClaims, String> {
        self.rp
            .user_info(token.clone(), None)
            .unwrap()
            .request_async(&self.http)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    pub async fn refresh(
        &self,
        token: &RefreshToken,
    ) -> Result<openidconnect::core::CoreTokenResponse, String> {
        self.rp
            .exchange_refresh_token(token)
            .unwrap()
            .request_async(&self.http)
            .await
            .map_err(|e| format!("{e:?}"))
    }

    /// A token request by hand (what no well-behaved client sends).
    pub async fn raw_token(
        &self,
        tessera: &TestApp,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let res = self
            .http
            .post(tessera.url("/oauth2/token"))
            .basic_auth(&self.client_id, self.secret.as_deref())
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(json!(null)))
    }
}

/// The browser follows an authorization URL: where it is sent. (The issuer says
/// `localhost`; the test's cookie jar holds the session for `127.0.0.1`.)
pub async fn follow(browser: &Client, url: &str) -> reqwest::Response {
    let url = url.replacen("http://localhost:", "http://127.0.0.1:", 1);
    browser.http.get(url).send().await.unwrap()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", res.status()))
        .to_str()
        .unwrap()
        .to_string()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A staff member with an authenticator app, signed in with both steps.
pub async fn two_step_staff(app: &TestApp, name: &str) -> (Client, Person) {
    let person = app.person(name, Role::Staff, true).await;
    (signed_in_with_app(app, &person).await, person)
}

pub async fn signed_in_with_app(app: &TestApp, person: &Person) -> Client {
    app.advance(30);
    let browser = app.client();
    let a = browser.sign_in(&person.email, PASSWORD).await;
    assert_eq!(a.body["next"], "/signin/verify", "{a:?}");
    let code = totp(person.key.as_deref().unwrap(), app.clock_now());
    let b = browser
        .call(
            "second_step",
            json!({"method": "authenticator", "code": code}),
        )
        .await;
    assert_eq!(b.status, 200, "{b:?}");
    browser
}

/// Authorizes with a signed-in browser: the code from the redirect back to the app.
pub async fn code_for(browser: &Client, started: &Started) -> String {
    let res = follow(browser, &started.url).await;
    assert_eq!(res.status(), 303, "a redirect back to the app");
    let to = location(&res);
    assert!(to.starts_with(CALLBACK), "{to}");
    param(&to, "code").expect("a code")
}

/// The `kid` in a JWT's header.
pub fn kid_of(jwt: &str) -> String {
    let header = jwt.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(header.as_bytes())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_string()
}
