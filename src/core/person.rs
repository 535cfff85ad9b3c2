//! People's names as they are typed at a ceremony: the operator, the witness, the custodians.
//! One name is the same person however it is capitalised or spaced.

/// The message of a name field whose entry looked like a share: the entry is neither shown nor
/// kept, and the message holds nothing of it.
pub const LOOKED_LIKE_SHARE: &str = "that looked like a share: it was not shown or kept";

/// A name as compared: without spaces, in lower case ("Alice  Admin" is "aliceadmin").
pub fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `a` and `b` name the same person, ignoring case and spacing.
pub fn same_person(a: &str, b: &str) -> bool {
    name_key(a) == name_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_spacing_do_not_make_another_person() {
        assert!(same_person("Alice Admin", " alice  ADMIN"));
        assert!(same_person("alice", "Alice"));
        assert!(!same_person("Alice", "Alicia"));
    }
}
