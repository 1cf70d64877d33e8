//! People for the console's tests: accounts in each role, with an authenticator app, and
//! signed-in clients that have stepped up (or not).

use serde_json::json;
use tessera_core::accounts::Role;

use super::factors::totp;
use super::{Client, TestApp};

pub const PASSWORD: &str = "console test passphrase";

/// Someone in the console's tests: their client (fully signed in), email and app key.
pub struct Person {
    pub client: Client,
    pub email: String,
    pub key: Option<String>,
    pub id: String,
}

impl TestApp {
    /// A new account in `role`, signed in; with an authenticator app when `with_app`.
    pub async fn person(&self, name: &str, role: Role, with_app: bool) -> Person {
        let email = format!(
            "{}@riverside.example",
            name.to_lowercase().replace(' ', ".")
        );
        let id = self
            .running()
            .tessera
            .create_user(None, &email, name, role, Some(PASSWORD))
            .await
            .unwrap()
            .to_string();
        let client = self.client();
        assert_eq!(client.sign_in(&email, PASSWORD).await.status, 200);
        let key = if with_app {
            let setup = client
                .call("begin_authenticator", json!({"password": PASSWORD}))
                .await;
            assert_eq!(setup.status, 200, "{setup:?}");
            let key = setup.body["key_grouped"].as_str().unwrap().to_string();
            let added = client
                .call(
                    "confirm_authenticator",
                    json!({"code": totp(&key, self.clock_now())}),
                )
                .await;
            assert_eq!(added.status, 200, "{added:?}");
            Some(key)
        } else {
            None
        };
        Person {
            client,
            email,
            key,
            id,
        }
    }

    /// The person proves themselves again: password and a current app code (the clock
    /// moves on a step first, as an app code is good once).
    pub async fn step_up(&self, person: &Person) -> super::Answer {
        self.advance(30);
        let key = person.key.as_deref().expect("stepping up needs an app");
        person
            .client
            .call(
                "admin/step_up_with_code",
                json!({"password": PASSWORD, "method": "authenticator", "code": totp(key, self.clock_now())}),
            )
            .await
    }

    /// A person with an app who has stepped up.
    pub async fn stepped_up(&self, name: &str, role: Role) -> Person {
        let person = self.person(name, role, true).await;
        let up = self.step_up(&person).await;
        assert_eq!(up.status, 200, "{up:?}");
        person
    }
}
