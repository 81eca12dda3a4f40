"""Forms of the pages. Their rules are the API's: a form only collects the fields and shows the errors."""

from django import forms
from django.conf import settings

from cameras.visibility import cameras_visible_to
from events.api.jobs import JobCreateSerializer
from events.jobs import EXPORT_FORMATS
from events.models import JobType


class ExportForm(forms.Form):
    """An export of the events matching the events list's filters, queued as POST /api/jobs/ queues it."""

    format = forms.ChoiceField(choices=[(name, name.upper()) for name in sorted(EXPORT_FORMATS)])
    # Plain text fields: the API's params serializer decides what is valid (visible camera,
    # score range, time order), so the page cannot drift from it.
    camera = forms.CharField(required=False, widget=forms.Select)
    min_risk_score = forms.CharField(
        required=False, label="Minimum risk score", widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )
    started_after = forms.CharField(
        required=False,
        label=f"Started from ({settings.TIME_ZONE})",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    started_before = forms.CharField(
        required=False,
        label=f"Started before ({settings.TIME_ZONE})",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        cameras = cameras_visible_to(request.user).order_by("name").values_list("pk", "name")
        self.fields["camera"].widget.choices = [("", "All cameras"), *cameras]

    def clean(self):
        params = {name: value for name, value in super().clean().items() if value not in ("", None)}
        serializer = JobCreateSerializer(
            data={"job_type": JobType.EXPORT, "params": params}, context={"request": self.request}
        )
        if serializer.is_valid():
            return {"params": serializer.validated_data["params"]}
        errors = serializer.errors.get("params", serializer.errors)
        for field, messages in errors.items() if isinstance(errors, dict) else [(None, errors)]:
            self.add_error(field if field in self.fields else None, messages)
        return {}
