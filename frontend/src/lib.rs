//! The wasm entry point. The pages are islands: this starts Leptos in the browser, and the
//! page's script (`app::hydration`) then hydrates each island by its exported function.

// The islands are exported from the `app` crate; linking it brings them in.
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
