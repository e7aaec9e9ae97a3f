//! Routing by the templates of the manifest: the host matched the request
//! to one of the handler's routes and says which (`route.current`), with
//! its parameters; the router calls the function registered for it.
//!
//! ```ignore
//! fn get_region(ctx: &Ctx) -> Result<impl IntoResponse> {
//!     let id: i64 = ctx.param("id")?;
//!     ...
//! }
//!
//! impl Guest for Regions {
//!     fn handle(request: Request) -> Response {
//!         Router::new()
//!             .get("/regions/{id}", get_region)
//!             .post("/regions", create_region)
//!             .handle(request)
//!     }
//! }
//! ```

use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::error::{Error, IntoResponse, Result};
use crate::wit::route;
use crate::wit::{Request, Response};

/// One request as a handler function sees it.
#[derive(Debug)]
pub struct Ctx {
    /// The request.
    pub request: Request,
    template: String,
    params: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Ctx {
    /// A context for `request`, matched to `template` with `params`.
    pub fn new(request: Request, template: String, params: Vec<(String, String)>) -> Self {
        let query = request.query_pairs();
        Self {
            request,
            template,
            params,
            query,
        }
    }

    /// The route template the request came in by, e.g. "/regions/{id}".
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Who is calling, as the host verified it; `None` for an anonymous
    /// request (on routes whose `[auth]` policy needs a token, the host has
    /// already refused those).
    pub fn identity(&self) -> Option<crate::identity::Identity> {
        crate::identity::current()
    }

    /// A path parameter of the template, parsed: a 400 problem naming it
    /// when it does not parse.
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T> {
        let raw = self
            .params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .ok_or_else(|| {
                Error::new(
                    500,
                    "internal",
                    "Internal error",
                    format!("route {} has no parameter {name:?}", self.template),
                )
            })?;
        raw.parse().map_err(|_| {
            Error::bad_parameter(
                name,
                format!("{name} must be {}, got {raw:?}", std::any::type_name::<T>()),
            )
        })
    }

    /// A query parameter given at most once, parsed; `None` when absent. A
    /// value that does not parse is a 400 naming the parameter, with the
    /// parser's reason when it gives one.
    pub fn query<T: FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        let mut values = self.query.iter().filter(|(k, _)| k == name);
        let Some((_, raw)) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(Error::bad_parameter(
                name,
                format!("{name} must be given at most once"),
            ));
        }
        raw.parse()
            .map(Some)
            .map_err(|err: T::Err| Error::bad_parameter(name, format!("{name}: {err}")))
    }

    /// Every query parameter, decoded, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The body as JSON of type `T`: 415 when it is declared as something
    /// else, 400 saying what is wrong when it does not parse into `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        if !self.request.body_may_be_json() {
            return Err(Error::new(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                "the body must be JSON (Content-Type: application/json)",
            ));
        }
        serde_json::from_slice(&self.request.body).map_err(|err| {
            Error::new(
                400,
                "invalid-body",
                "Invalid body",
                format!("the body is not what this route takes: {err}"),
            )
        })
    }
}

type Route = Box<dyn Fn(&Ctx) -> Response>;

/// Handler functions by method and route template.
#[derive(Default)]
pub struct Router {
    routes: Vec<(String, String, Route)>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(m, t, _)| format!("{m} {t}")))
            .finish()
    }
}

impl Router {
    /// A router with no routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method template` (a template of the manifest) to `f`.
    pub fn route<R: IntoResponse + 'static>(
        mut self,
        method: &str,
        template: &str,
        f: fn(&Ctx) -> Result<R>,
    ) -> Self {
        self.routes.push((
            method.to_ascii_uppercase(),
            template.to_owned(),
            Box::new(move |ctx| f(ctx).into_response()),
        ));
        self
    }

    /// `GET template` (and `HEAD`, which the host answers without a body).
    pub fn get<R: IntoResponse + 'static>(self, template: &str, f: fn(&Ctx) -> Result<R>) -> Self {
        self.route("GET", template, f)
    }

    /// `POST template`.
    pub fn post<R: IntoResponse + 'static>(self, template: &str, f: fn(&Ctx) -> Result<R>) -> Self {
        self.route("POST", template, f)
    }

    /// `PUT template`.
    pub fn put<R: IntoResponse + 'static>(self, template: &str, f: fn(&Ctx) -> Result<R>) -> Self {
        self.route("PUT", template, f)
    }

    /// `DELETE template`.
    pub fn delete<R: IntoResponse + 'static>(
        self,
        template: &str,
        f: fn(&Ctx) -> Result<R>,
    ) -> Self {
        self.route("DELETE", template, f)
    }

    /// Answers `request`: the function of the route the host matched.
    pub fn handle(&self, request: Request) -> Response {
        let matched = route::current();
        self.dispatch(request, matched.template, matched.params)
    }

    /// Answers `request` as matched to `template` with `params`.
    pub fn dispatch(
        &self,
        request: Request,
        template: String,
        params: Vec<(String, String)>,
    ) -> Response {
        let method = match request.method.as_str() {
            "HEAD" => "GET".to_owned(),
            other => other.to_ascii_uppercase(),
        };
        let found = self
            .routes
            .iter()
            .find(|(m, t, _)| *m == method && *t == template);
        match found {
            Some((_, _, f)) => f(&Ctx::new(request, template, params)),
            None => Error::new(
                500,
                "route-not-handled",
                "Route not handled",
                format!(
                    "{method} {template} is routed to this handler but it has no function for it"
                ),
            )
            .into_response(),
        }
    }
}
