using System.Text.Json;
using AngleSharp.Dom;
using Bunit;
using Cmp.Web.Features.Billing;
using Cmp.Web.Features.Billing.Pages;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;

namespace Cmp.Web.Tests.Billing;

/// <summary>The seller's plan form: rows of price components, the fields each billing type has, and the server's refusal next to its field.</summary>
public sealed class PlanEditorTests : IAsyncLifetime
{
    private readonly BunitContext _bunit = new();
    private readonly List<PlanRequest> _sent = [];

    public PlanEditorTests()
    {
        _bunit.JSInterop.Mode = JSRuntimeMode.Loose;
        _bunit.Services.AddMudServices();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's services are only IAsyncDisposable.
    public async Task DisposeAsync() => await _bunit.DisposeAsync();

    /// <summary>The editor as its host renders it, saving through the server's own plan rules (<see cref="PlanOperations.Validate"/>).</summary>
    private IRenderedComponent<PlanEditor> RenderEditor()
    {
        Func<PlanRequest, Task<ProblemDetails?>> save = request =>
        {
            _sent.Add(request);
            var (errors, _) = PlanOperations.Validate(request);
            return Task.FromResult(errors.Any ? errors.ToProblem().ProblemDetails : null);
        };
        var host = _bunit.Render(b =>
        {
            b.OpenComponent<MudPopoverProvider>(0);
            b.CloseComponent();
            b.OpenComponent<PlanEditor>(1);
            b.AddAttribute(2, nameof(PlanEditor.OnSave), save);
            b.CloseComponent();
        });
        return host.FindComponent<PlanEditor>();
    }

    private static IElement Button(IRenderedComponent<PlanEditor> cut, string name) =>
        cut.FindAll("button").Single(b => (b.GetAttribute("aria-label") ?? b.TextContent.Trim()) == name);

    private static async Task ChooseBillingTypeAsync(IRenderedComponent<PlanEditor> cut, int row, string type)
    {
        // A row just added renders its select's input on the next render pass: wait for it.
        cut.WaitForState(() => cut.FindComponents<MudSelect<string>>().Any(s => s.FindAll($"#component-{row}-billing-type").Count == 1));
        var select = cut.FindComponents<MudSelect<string>>().Single(s => s.FindAll($"#component-{row}-billing-type").Count == 1);
        await cut.InvokeAsync(() => select.Instance.ValueChanged.InvokeAsync(type));
    }

    /// <summary>The text of the form control around an input: its label, value, helper and error.</summary>
    private static string Field(IRenderedComponent<PlanEditor> cut, string inputId) =>
        cut.Find($"#{inputId}").Closest(".mud-input-control")!.TextContent;

    [Fact]
    public void ComponentRows_CanBeAddedAndRemoved_ButNotTheLastOne()
    {
        var cut = RenderEditor();
        Assert.Single(cut.FindAll("fieldset.plan-component"));
        Assert.True(Button(cut, "Remove component 1").HasAttribute("disabled"));

        Button(cut, "Add component").Click();
        Button(cut, "Add component").Click();
        Assert.Equal(3, cut.FindAll("fieldset.plan-component").Count);
        Assert.Equal(["Component 1", "Component 2", "Component 3"], cut.FindAll("fieldset.plan-component > legend").Select(l => l.TextContent.Trim()));

        cut.Find("#component-2-name").Change("Third");
        Button(cut, "Remove component 2").Click();
        Assert.Equal(2, cut.FindAll("fieldset.plan-component").Count);
        Assert.Equal("Third", cut.Find("#component-1-name").GetAttribute("value"));
        Assert.False(Button(cut, "Remove component 1").HasAttribute("disabled"));
    }

    [Theory]
    [InlineData("FIXED", false, false, "Price per month")]
    [InlineData("USAGE", true, false, "Price per unit")]
    [InlineData("ONE_TIME", false, false, "Setup fee")]
    [InlineData("LIMIT", true, true, "Price per month")]
    public async Task EachBillingType_ShowsItsOwnFields(string type, bool unit, bool limit, string priceLabel)
    {
        var cut = RenderEditor();
        await ChooseBillingTypeAsync(cut, 0, type);

        Assert.Equal(unit, cut.FindAll("#component-0-measured-unit").Count == 1);
        Assert.Equal(limit, cut.FindAll("#component-0-limit-amount").Count == 1);
        Assert.Contains(priceLabel, Field(cut, "component-0-price"));
    }

    [Fact]
    public async Task TheRequest_CarriesExactPriceText_AndOnlyTheFieldsOfEachType()
    {
        var cut = RenderEditor();
        cut.Find("#plan-name").Change("Pro");
        cut.Find("#component-0-name").Change("Monthly");
        cut.Find("#component-0-price").Change("19.990000");
        Button(cut, "Add component").Click();
        await ChooseBillingTypeAsync(cut, 1, "LIMIT");
        cut.Find("#component-1-name").Change("Allowance");
        cut.Find("#component-1-limit-amount").Change("1000");
        cut.Find("#component-1-price").Change("0.1");

        await cut.Find("form").SubmitAsync();

        var request = Assert.Single(_sent);
        Assert.Equal("EUR", request.Currency);
        var (fixedFee, allowance) = (request.Components![0], request.Components[1]);
        Assert.Equal(("FIXED", null, null), (fixedFee.BillingType, fixedFee.MeasuredUnit, fixedFee.LimitAmount));
        Assert.Equal(JsonValueKind.String, fixedFee.Price!.Value.ValueKind);
        Assert.Equal("19.990000", fixedFee.Price.Value.GetString());
        Assert.Equal(("LIMIT", "invocation", 1000L), (allowance.BillingType, allowance.MeasuredUnit, allowance.LimitAmount));
        Assert.Equal("0.1", allowance.Price!.Value.GetString());
        Assert.Empty(cut.FindAll(".mud-input-error"));
    }

    [Fact]
    public async Task TheServersRefusal_ShowsNextToTheFieldItNames()
    {
        var cut = RenderEditor();
        cut.Find("#plan-name").Change("Pro");
        cut.Find("#component-0-name").Change("Monthly");
        cut.Find("#component-0-price").Change("1.2345678");
        Button(cut, "Add component").Click();
        await ChooseBillingTypeAsync(cut, 1, "USAGE");
        cut.Find("#component-1-price").Change("0.002");

        await cut.Find("form").SubmitAsync();

        Assert.Contains("Use at most 6 decimal places.", Field(cut, "component-0-price"));
        Assert.Contains("This field is required.", Field(cut, "component-1-name"));
        Assert.DoesNotContain("required", Field(cut, "component-0-name"));
        Assert.DoesNotContain("decimal places", Field(cut, "component-1-price"));
        Assert.DoesNotContain("This field", Field(cut, "plan-name"));
        Assert.Empty(cut.FindAll("[role=alert]"));
    }

    [Fact]
    public async Task ARefusalForTheWholePlan_ShowsAboveTheComponents()
    {
        var cut = RenderEditor();
        cut.Find("#plan-name").Change("Two caps");
        for (var i = 0; i < 2; i++)
        {
            if (i > 0)
            {
                Button(cut, "Add component").Click();
            }
            await ChooseBillingTypeAsync(cut, i, "LIMIT");
            cut.Find($"#component-{i}-name").Change($"Cap {i}");
            cut.Find($"#component-{i}-limit-amount").Change("10");
            cut.Find($"#component-{i}-price").Change("5");
        }
        cut.Find("#plan-currency").Change("e1r");

        await cut.Find("form").SubmitAsync();

        Assert.Contains("A plan has at most one LIMIT component.", cut.Find("#components-error").TextContent);
        Assert.Contains("Use an ISO 4217 code", Field(cut, "plan-currency"));
    }
}
