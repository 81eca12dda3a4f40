"""The events API's filters as a page form: the same FilterSet, with widgets a person can use."""

from django import forms

from events.filters import EventFilter

REVIEWED_CHOICES = [("", "Any"), ("false", "Not reviewed"), ("true", "Reviewed")]
LABELS = {
    "camera": "Camera",
    "risk_level": "Risk level",
    "min_risk_score": "Minimum risk score",
    "reviewed": "Reviewed",
    "started_after": "Started after",
    "started_before": "Started before",
    "object_type": "Object type",
    "q": "Summary contains",
}


class EventHistoryFilter(EventFilter):
    """EventFilter (what it filters is unchanged) with pickers: cameras the user may see, times, yes/no."""

    def __init__(self, *args, cameras, **kwargs):
        super().__init__(*args, **kwargs)
        fields = self.form.fields
        fields["camera"].widget = forms.Select(
            choices=[("", "Any camera"), *((c.pk, c.name) for c in cameras)]
        )
        fields["risk_level"].widget.choices = [("", "Any level"), *fields["risk_level"].choices[1:]]
        fields["reviewed"].widget = forms.Select(choices=REVIEWED_CHOICES)
        for name in ("started_after", "started_before"):
            # A datetime-local value (no offset) is read in TIME_ZONE, as the API reads a naive time.
            fields[name].widget = forms.DateTimeInput(attrs={"type": "datetime-local"})
        fields["q"].widget = forms.TextInput(attrs={"type": "search"})
        for name, field in fields.items():
            field.label = LABELS[name]
            field.help_text = ""
