using Cmp.Flows.Runtime;
using Polly;

namespace Cmp.Web.Features.Agents;

// The runtime's services: the built-in flow runtime, or a remote Langflow when LANGFLOW_URL is set.
public static partial class ProviderAgentEndpoints
{
    public static IServiceCollection AddAgents(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(_ => new FlowRuntime(new FlowRuntimeOptions
        {
            LlmMode = configuration["CMP_LLM"] is { Length: > 0 } mode ? mode : "dev",
            OpenAiBaseUrl = configuration["OPENAI_BASE_URL"] is { Length: > 0 } url ? url : null,
            AllowPrivateNetworks = configuration.GetValue("Flows:AllowPrivateNetworks", false),
            TimeBudget = TimeSpan.FromSeconds(configuration.GetValue("Flows:TimeBudgetSeconds", 120.0)),
        }));
        services.AddSingleton<BuiltinAgentRuntime>();
        if (configuration["LANGFLOW_URL"] is { Length: > 0 } langflow)
        {
            // Remote runtime: resilient HTTP (timeout + circuit breaker), and no retries: a run is not idempotent.
            services.AddHttpClient(RemoteLangflowRuntime.HttpClientName, c =>
            {
                c.BaseAddress = new Uri(langflow.TrimEnd('/') + "/");
                c.Timeout = Timeout.InfiniteTimeSpan;
                if (configuration["LANGFLOW_API_KEY"] is { Length: > 0 } key)
                {
                    c.DefaultRequestHeaders.Add("x-api-key", key);
                }
            }).AddResilienceHandler("langflow", b =>
            {
                b.AddTimeout(TimeSpan.FromSeconds(configuration.GetValue("Langflow:TimeoutSeconds", 120.0)));
                b.AddCircuitBreaker(new Microsoft.Extensions.Http.Resilience.HttpCircuitBreakerStrategyOptions
                {
                    FailureRatio = 0.5,
                    MinimumThroughput = 5,
                    SamplingDuration = TimeSpan.FromSeconds(30),
                    BreakDuration = TimeSpan.FromSeconds(15),
                });
            });
            services.AddSingleton<IAgentRuntime>(sp => new RemoteLangflowRuntime(
                sp.GetRequiredService<IHttpClientFactory>().CreateClient(RemoteLangflowRuntime.HttpClientName),
                sp.GetRequiredService<IServiceScopeFactory>(),
                sp.GetRequiredService<ILogger<RemoteLangflowRuntime>>()));
        }
        else
        {
            services.AddSingleton<IAgentRuntime>(sp => sp.GetRequiredService<BuiltinAgentRuntime>());
        }
        services.AddSingleton<DeploymentQueue>();
        services.AddHostedService<DeploymentWorker>();
        services.AddScoped<AgentSecrets>();
        return services;
    }
}
