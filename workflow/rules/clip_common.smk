# Constants and input functions of the clip rules (workflow/rules/clip.smk).
