//! Colour in the operators' screens, honouring NO_COLOR (no-color.org): when the variable is set
//! and not empty, no foreground colour is drawn; bold, reverse and the words stay, so nothing is
//! said by colour alone.

use std::sync::OnceLock;

use ratatui::style::{Color, Style};

/// Whether a NO_COLOR value asks for no colour: present and not empty.
pub fn no_colour_from(value: Option<std::ffi::OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

fn no_colour() -> bool {
    static NO_COLOUR: OnceLock<bool> = OnceLock::new();
    *NO_COLOUR.get_or_init(|| no_colour_from(std::env::var_os("NO_COLOR")))
}

/// A style in colour `c`, or plain under NO_COLOR.
pub fn fg(c: Color) -> Style {
    fg_unless(c, no_colour())
}

fn fg_unless(c: Color, no_colour: bool) -> Style {
    if no_colour {
        Style::default()
    } else {
        Style::default().fg(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_not_empty_drops_the_colour_only() {
        assert!(no_colour_from(Some("1".into())));
        assert!(!no_colour_from(Some("".into())));
        assert!(!no_colour_from(None));
        assert_eq!(fg_unless(Color::Red, true), Style::default());
        assert_eq!(
            fg_unless(Color::Red, false),
            Style::default().fg(Color::Red)
        );
    }
}
