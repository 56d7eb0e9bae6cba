//! Pages, components and server functions of the S3 uploader. The API contract between the
//! page and the server: the server functions in [`api`] (sent by [`bearer`]), what they
//! exchange in [`wire`], what
//! may be uploaded in [`rules`] (both sides decide with it), and what the server must provide
//! in `service` (server builds only).

// Release builds keep every view's full type (debug builds erase them): the upload page's is
// deeper than the compiler's default limit.
#![recursion_limit = "256"]

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    ParamSegment, SsrMode, StaticSegment,
};

pub mod api;
pub mod bearer;
pub mod format;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
mod upload;
pub mod wire;

/// The HTML document around the app, rendered by the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="S3 uploader"/>
        <Router>
            <main>
                <Routes fallback=|| "Page not found.".into_view()>
                    // Async: the whole page, signed plain form included, is in the first HTML,
                    // so it works before hydration and without JavaScript.
                    <Route path=StaticSegment("") view=upload::UploadPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("uploaded") view=upload::UploadedPage ssr=SsrMode::Async/>
                    // One page per upload profile (UPLOAD_PROFILES); `/` is the default one.
                    <Route path=(StaticSegment("p"), ParamSegment("name")) view=upload::UploadPage ssr=SsrMode::Async/>
                    // The uploader a profile's application frames in its own pages.
                    <Route path=(StaticSegment("embed"), ParamSegment("name")) view=upload::UploadPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
