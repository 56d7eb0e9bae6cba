//! How the page's server function calls are sent: the browser's `fetch`, as Leptos sends them,
//! with the application's token in `Authorization: Bearer` when the page holds one. The
//! embedded uploader does (its frame, on another site, gets no cookie): its parent page hands
//! it the token ([`set_token`]), again whenever it refreshes it.

use std::cell::{Cell, RefCell};
use std::future::Future;

use leptos::server_fn::client::{browser::BrowserClient, Client};
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::browser::BrowserResponse;

thread_local! {
    static TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// How many tokens the page was handed: a call refused for an expired token waits for this
    /// to change.
    static HANDED: Cell<u32> = const { Cell::new(0) };
}

/// Every later call carries `token`.
pub fn set_token(token: String) {
    TOKEN.with(|held| *held.borrow_mut() = Some(token));
    HANDED.with(|n| n.set(n.get().wrapping_add(1)));
}

/// How many tokens the page was handed so far.
pub fn tokens_handed() -> u32 {
    HANDED.with(Cell::get)
}

/// The client every server function of [`crate::api`] is called with.
pub struct Bearer;

impl<E, I, O> Client<E, I, O> for Bearer
where
    E: FromServerFnError,
    I: FromServerFnError,
    O: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = TOKEN.with(|held| held.borrow().clone()) {
            req.headers().set("authorization", &format!("Bearer {token}"));
        }
        <BrowserClient as Client<E, I, O>>::send(req)
    }

    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<
                        Item = Result<leptos::server_fn::Bytes, leptos::server_fn::Bytes>,
                    > + Send
                    + 'static,
                impl futures::Sink<leptos::server_fn::Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, I, O>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, I, O>>::spawn(future)
    }
}
