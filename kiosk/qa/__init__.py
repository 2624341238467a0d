"""Quality-assurance tools that run the real screens: the accessibility audit."""
