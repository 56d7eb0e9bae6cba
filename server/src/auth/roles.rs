//! A user's roles, as a token or the proxy gives them: read, carried and logged (what the
//! operator's role may do comes later).

/// At most this many roles, each at most [`MAX_ROLE_LEN`] bytes: they travel in the session
/// cookie, which browsers drop silently past 4 KB.
pub const MAX_ROLES: usize = 16;
pub const MAX_ROLE_LEN: usize = 64;

/// Roles as a token or the proxy gives them (blank ones skipped), within the bounds above.
pub fn bounded<'a>(
    given: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<String>, app::wire::NoUser> {
    let roles: Vec<String> =
        given.into_iter().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect();
    let fits = roles.len() <= MAX_ROLES
        && roles.iter().all(|r| r.len() <= MAX_ROLE_LEN && !r.chars().any(char::is_control));
    if fits {
        Ok(roles)
    } else {
        Err(app::wire::NoUser::Malformed)
    }
}
