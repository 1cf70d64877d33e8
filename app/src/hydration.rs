//! How the browser wakes the page up: Tessera's pages are islands (see the README, "Why
//! islands"). The server renders every page in full; only the `#[island]` components —
//! forms, the passkey prompt, the panels that change without a reload — are compiled to
//! wasm, and the script here hydrates each one on the page.
//!
//! Ours rather than Leptos's `HydrationScripts` so that it can say when it is done: once
//! every island on the page is live (lazy ones included, after their file has arrived),
//! `<body data-hydrated="true">` tells people's tools and the browser tests that the
//! page answers clicks. Islands do not nest: each `<leptos-island>` is hydrated on its own.

use leptos::prelude::*;

/// The `<head>` tags that load the wasm and hydrate the page's islands.
#[component]
pub fn IslandScripts(options: LeptosOptions) -> impl IntoView {
    // The page is rendered for islands: only islands carry hydration markers.
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let pkg = format!("/{}", options.site_pkg_dir);
    let js = format!("{pkg}/{}.js", options.output_name);
    let wasm = format!("{pkg}/{}_bg.wasm", options.output_name);
    let script = format!(
        "import init, * as tessera from '{js}';\n\
         await init({{ module_or_path: '{wasm}' }});\n\
         tessera.hydrate();\n\
         for (const island of document.querySelectorAll('leptos-island')) {{\n\
           const wake = tessera[island.dataset.component];\n\
           if (wake) {{ await wake(island); }}\n\
           else {{ console.error(`No code for the island ${{island.dataset.component}}`); }}\n\
         }}\n\
         document.body.dataset.hydrated = 'true';"
    );
    #[cfg(feature = "ssr")]
    let nonce = leptos::nonce::use_nonce();
    #[cfg(not(feature = "ssr"))]
    let nonce = None::<String>;
    view! {
        <link rel="modulepreload" href=js/>
        <link rel="preload" href=wasm r#as="fetch" r#type="application/wasm" crossorigin=""/>
        <script type="module" nonce=nonce>{script}</script>
    }
}
