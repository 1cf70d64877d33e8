//! `/admin/users/import`: add many people from a CSV file (email, name, role — as Excel
//! writes it, commas or semicolons, with or without a header). The preview lists every
//! row's problem before anything is written; importing sends the same file again and the
//! server adds everyone or no one, each with an invitation. Admins only; importing needs
//! a fresh step-up.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use super::step_up::StepUpForm;
use super::ConsolePage;
use crate::api::admin::people::{import_users, preview_import, ImportCheck};
use crate::api::admin::step_up::{console_me, ConsoleUser};
use crate::error::AppError;
use crate::pages::ErrorNotice;

#[component]
pub fn ImportPage() -> impl IntoView {
    let me = Resource::new_blocking(|| (), |_| console_me());
    view! {
        <Title text="Import users"/>
        <Suspense fallback=|| view! { <p role="status">"Loading…"</p> }>
            {move || me.get().map(|me| {
                let me = me.ok();
                view! {
                    <ConsolePage title="Import users" me=me.clone()>
                        <p><a href="/admin/users">"← All users"</a></p>
                        <h1>"Import users"</h1>
                        <p>"A CSV file with one person per line: " <code>"email, name, role"</code>
                           " (role: admin, helpdesk, auditor or staff; empty means staff). A header line is fine; so are semicolons, as Excel writes them in some countries. At most 10,000 people and 2 MB."</p>
                        {match me {
                            Some(me) if me.two_factor_enabled => view! { <ImportForm me/> }.into_any(),
                            _ => view! { <p class="hint">"Importing needs your own two-step authentication."</p> }.into_any(),
                        }}
                    </ConsolePage>
                }
            })}
        </Suspense>
    }
}

/// The chosen file's text, read in the browser.
#[cfg(feature = "hydrate")]
async fn read_file(input: &web_sys::HtmlInputElement) -> Result<String, AppError> {
    let file = input
        .files()
        .and_then(|files| files.get(0))
        .ok_or_else(|| AppError::Invalid {
            field: "file".into(),
            message: "Choose a CSV file first.".into(),
        })?;
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| AppError::Invalid {
            field: "file".into(),
            message: "The file could not be read.".into(),
        })?;
    // Refused rather than guessed: a file in another encoding would turn accents into "�".
    String::from_utf8(js_sys::Uint8Array::new(&buffer).to_vec()).map_err(|_| AppError::Invalid {
        field: "file".into(),
        message: "This file is not UTF-8 text. In Excel, save it as \"CSV UTF-8 (comma delimited)\" and choose it again.".into(),
    })
}

#[island(lazy)]
fn ImportForm(me: ConsoleUser) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    let file = RwSignal::new(None::<String>);
    let check = RwSignal::new(None::<ImportCheck>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<AppError>);
    let stepping_up = RwSignal::new(false);
    let imported = RwSignal::new(None::<usize>);

    let preview = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        check.set(None);
        imported.set(None);
        spawn_local(async move {
            #[cfg(feature = "hydrate")]
            let text = match input.get_untracked() {
                Some(el) => read_file(&el).await,
                None => Err(AppError::Internal),
            };
            #[cfg(not(feature = "hydrate"))]
            let text: Result<String, AppError> = {
                let _ = input;
                Err(AppError::Internal)
            };
            let result = match text {
                Ok(text) => {
                    file.set(Some(text.clone()));
                    preview_import(text).await
                }
                Err(e) => Err(e),
            };
            busy.set(false);
            match result {
                Ok(c) => check.set(Some(c)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let commit = Callback::new(move |()| {
        let (Some(text), Some(c)) = (file.get_untracked(), check.get_untracked()) else {
            return;
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = import_users(text, c.hash).await;
            busy.set(false);
            match result {
                Ok(n) => {
                    imported.set(Some(n));
                    check.set(None);
                }
                Err(AppError::StepUpRequired) => stepping_up.set(true),
                Err(e) => error.set(Some(e)),
            }
        });
    });

    view! {
        <ErrorNotice error=error.into()/>
        <div role="status" aria-live="polite">
            {move || imported.get().map(|n| view! {
                <p class="notice notice-ok" id="import-done">
                    {format!("{n} people added; their invitations are in the outbox. ")}
                    <a href="/admin/users?status=pending">"See pending invitations"</a>
                </p>
            })}
            {move || busy.get().then(|| view! { <p class="hint">"Working…"</p> })}
        </div>
        <form class="card" on:submit=preview novalidate>
            <div class="field">
                <label for="import-file">"CSV file"</label>
                <input id="import-file" type="file" accept=".csv,text/csv" node_ref=input required/>
            </div>
            <button type="submit" class="button" disabled=move || busy.get()>"Preview"</button>
        </form>
        {move || check.get().map(|c| {
            let ok = c.problems == 0;
            view! {
                <section class="card" aria-labelledby="preview-heading">
                    <h2 id="preview-heading">"Preview"</h2>
                    <p id="preview-summary">{if ok {
                        format!("{} people can be added. Nothing has been written yet.", c.valid)
                    } else {
                        format!("{} row(s) have problems; {} are fine. Fix the file and preview it again: nobody is added while any row has a problem.", c.problems, c.valid)
                    }}</p>
                    <table class="users">
                        <caption class="visually-hidden">"Rows of the file"</caption>
                        <thead><tr><th scope="col">"Line"</th><th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"Problem"</th></tr></thead>
                        <tbody>
                            {c.rows.into_iter().map(|r| {
                                let class = if r.problem.is_some() { "row-problem" } else { "" };
                                view! {
                                <tr class=class>
                                    <td>{r.line}</td><td>{r.email}</td><td>{r.name}</td><td>{r.role}</td>
                                    <td>{r.problem.unwrap_or_else(|| "—".into())}</td>
                                </tr>
                            }}).collect_view()}
                        </tbody>
                    </table>
                    {ok.then(|| view! {
                        <button type="button" class="button primary" id="import-confirm" disabled=move || busy.get()
                            on:click=move |_| commit.run(())>{format!("Add {} people and send invitations", c.valid)}</button>
                    })}
                </section>
            }
        })}
        {
            let me = me.clone();
            move || stepping_up.get().then(|| view! {
                <StepUpForm me=me.clone()
                    on_done=move |_| { stepping_up.set(false); commit.run(()); }
                    on_cancel=move |_| stepping_up.set(false)/>
            })
        }
    }
}
