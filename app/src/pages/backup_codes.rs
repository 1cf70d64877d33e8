//! Showing new backup codes, once: copy, download, print, and a confirmation that they
//! were saved before the page lets you leave.

use leptos::prelude::*;

/// The codes, with ways to keep them. `on_done` runs when the user confirms they saved them.
#[component]
pub fn BackupCodesPanel(codes: Vec<String>, #[prop(into)] on_done: Callback<()>) -> impl IntoView {
    let saved = RwSignal::new(false);
    let copied = RwSignal::new(false);
    let text = format!(
        "Tessera backup codes\nEach code works once. Keep them somewhere safe.\n\n{}\n",
        codes.join("\n")
    );
    let download = format!("data:text/plain;charset=utf-8,{}", percent_encode(&text));
    let copy_text = text.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&copy_text);
            copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &copy_text;
    };
    // Until they are confirmed saved, leaving the page (closing the tab, reloading) asks
    // first: the codes cannot be shown again.
    #[cfg(feature = "hydrate")]
    {
        let leaving = window_event_listener(leptos::ev::beforeunload, move |e| {
            if !saved.get_untracked() {
                e.prevent_default();
            }
        });
        on_cleanup(move || leaving.remove());
    }
    let print = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(window) = web_sys::window() {
            let _ = window.print();
        }
    };
    view! {
        <div class="backup-codes" aria-labelledby="codes-heading">
            <h2 id="codes-heading">"Your backup codes"</h2>
            <p>
                "If you lose your phone or security key, each of these codes lets you sign in once. "
                <strong>"They are shown only now."</strong>
                " Keep them somewhere safe, away from your devices."
            </p>
            <ol class="codes" id="backup-codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ol>
            <div class="actions no-print">
                <button type="button" class="button" on:click=copy>
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
                <a class="button" href=download download="tessera-backup-codes.txt">"Download .txt"</a>
                <button type="button" class="button" on:click=print>"Print"</button>
            </div>
            <div class="field checkbox no-print">
                <input id="saved" type="checkbox" bind:checked=saved/>
                <label for="saved">"I have saved these codes"</label>
            </div>
            <button type="button" class="button primary no-print" disabled=move || !saved.get()
                on:click=move |_| on_done.run(())>
                "Done"
            </button>
        </div>
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
