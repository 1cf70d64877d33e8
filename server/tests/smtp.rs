//! Mail really leaves through SMTP: a real SMTP server (Python's aiosmtpd, on 127.0.0.1)
//! receives the "your password was changed" message.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tessera_core::mail::Transport;

struct SmtpServer {
    child: Child,
    maildir: tempfile::TempDir,
    port: u16,
}

impl SmtpServer {
    fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("inbox"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 -m aiosmtpd (installed by `cargo xtask test`)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        SmtpServer {
            child,
            maildir,
            port,
        }
    }

    fn messages(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.path().join("inbox").join("new"))
            .map(|d| {
                d.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn password_change_mail_is_delivered_over_smtp() {
    let smtp = SmtpServer::start();
    let transport = Transport::smtp(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
    let app = TestApp::with_transport(transport).await;
    let c = app.client();
    assert_eq!(c.sign_in(STAFF, STAFF_PASSWORD).await.status, 200);
    let ok = c
        .call(
            "change_password",
            json!({"current_password": STAFF_PASSWORD, "new_password": "delivered by smtp today"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        if let Some(m) = smtp
            .messages()
            .into_iter()
            .find(|m| m.contains("password was changed"))
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no message reached the SMTP server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(message.contains(&format!("To: {STAFF}")), "{message}");
    assert!(
        message.contains("From: Tessera <tessera@localhost>"),
        "{message}"
    );
    assert!(
        !message.contains("delivered by smtp today"),
        "the password itself is never mailed"
    );
    // The worker marks the row sent once the server has answered; give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            .fetch_one(app.running().tessera.db().pool())
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} mail(s) still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}
